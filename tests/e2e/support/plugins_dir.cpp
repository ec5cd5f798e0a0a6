// The temporary plugins directory of end-to-end tests.
#include "support/plugins_dir.h"

#include <stdlib.h>

#include <stdexcept>

namespace quanqu::e2e {

namespace fs = std::filesystem;

PluginsDir::PluginsDir() {
  std::string templ = (fs::temp_directory_path() / "quanqu-e2e-plugins-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = templ;
}

PluginsDir::~PluginsDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void PluginsDir::add(const fs::path& built_dir, const std::string& name) {
  if (!fs::exists(built_dir / "plugin.json"))
    throw std::runtime_error(built_dir.string() + " holds no built plugin (no plugin.json)");
  fs::copy(built_dir, path_ / (name.empty() ? built_dir.filename().string() : name), fs::copy_options::recursive);
}

}  // namespace quanqu::e2e
