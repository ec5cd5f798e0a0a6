// quanqu/sdk/testing.hpp compiles alone as C++17.
#include <quanqu/sdk/testing.hpp>
