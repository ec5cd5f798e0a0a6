// Fixture plugin "init-throws": written against the raw C ABI, its init throws (breaking the ABI
// contract), to show that the host's own try/catch keeps the server up.
#include <quanqu/sdk/abi.h>

#include <stdexcept>

namespace {
quanqu_status init(const quanqu_host*, void**, char*, size_t) {
  throw std::runtime_error("init exploded");
}
quanqu_status start(void*, char*, size_t) {
  return QUANQU_OK;
}
void stop(void*) {}
}  // namespace

extern "C" QUANQU_SDK_EXPORT const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void) {
  static const quanqu_plugin_descriptor d = {QUANQU_SDK_ABI_MAJOR,
                                             QUANQU_SDK_ABI_MINOR,
                                             sizeof(quanqu_plugin_descriptor),
                                             "init-throws",
                                             "1.0.0",
                                             &init,
                                             &start,
                                             &stop};
  return &d;
}
