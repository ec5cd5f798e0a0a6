// A temporary --plugins-dir for end-to-end tests: copies of built plugin directories, removed afterwards.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace quanqu::e2e {

class PluginsDir {
 public:
  // Creates an empty directory under the system's temporary directory; throws when it cannot.
  PluginsDir();
  // Removes the directory and everything in it.
  ~PluginsDir();
  PluginsDir(const PluginsDir&) = delete;
  PluginsDir& operator=(const PluginsDir&) = delete;

  // Copies a built plugin's directory (its library and plugin.json, as quanqu_add_plugin lays
  // them out) in as <name>, by default the directory's own name. Throws when it has no plugin.json.
  void add(const std::filesystem::path& built_dir, const std::string& name = "");

  const std::filesystem::path& path() const { return path_; }
  // The server flags that load it.
  std::vector<std::string> args() const { return {"--plugins-dir", path_.string()}; }

 private:
  std::filesystem::path path_;
};

}  // namespace quanqu::e2e
