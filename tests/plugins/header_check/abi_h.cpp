// quanqu/sdk/abi.h compiles alone as C++17.
#include <quanqu/sdk/abi.h>
