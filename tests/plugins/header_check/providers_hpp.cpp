// quanqu/sdk/providers.hpp compiles alone as C++17.
#include <quanqu/sdk/providers.hpp>
