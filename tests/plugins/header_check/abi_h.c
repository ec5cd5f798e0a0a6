/* abi.h compiles alone as C (C99, pedantic): the boundary must stay plain C. */
#include <quanqu/sdk/abi.h>

size_t quanqu_header_check_host_size(const quanqu_host* host) {
  return QUANQU_HOST_HAS(host, response_add_header) ? host->size : 0;
}
