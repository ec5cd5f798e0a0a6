// quanqu/sdk/webhooks.hpp compiles alone as C++17.
#include <quanqu/sdk/webhooks.hpp>
