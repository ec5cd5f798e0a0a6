// quanqu/sdk/plugin.hpp compiles alone as C++17.
#include <quanqu/sdk/plugin.hpp>
