// Fixture plugin "no-entry": a library that exports something, but not quanqu_plugin_entry_v1.
#include <quanqu/sdk/abi.h>

extern "C" QUANQU_SDK_EXPORT int quanqu_plugin_entry_v0(void) {
  return 0;
}
