// Fixture plugin "wrong-major": declares SDK ABI 2.x; the host must refuse it before calling init.
#include <quanqu/sdk/abi.h>

#include <cstdlib>

namespace {
quanqu_status never(const quanqu_host*, void**, char*, size_t) {
  std::abort();
}  // must not be reached
quanqu_status never_start(void*, char*, size_t) {
  std::abort();
}
void never_stop(void*) {
  std::abort();
}
}  // namespace

extern "C" QUANQU_SDK_EXPORT const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void) {
  static const quanqu_plugin_descriptor d = {QUANQU_SDK_ABI_MAJOR + 1,
                                             0,
                                             sizeof(quanqu_plugin_descriptor),
                                             "wrong-major",
                                             "1.0.0",
                                             &never,
                                             &never_start,
                                             &never_stop};
  return &d;
}
