// quanqu/sdk/http.hpp compiles alone as C++17.
#include <quanqu/sdk/http.hpp>
