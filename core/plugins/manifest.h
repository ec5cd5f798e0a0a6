// A plugin's manifest (plugin.json beside its library): what it is, which SDK ABI it targets, what it provides.
#pragma once

#include "common/result.h"
#include "plugins/outgoing_hosts.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::plugins {

// An SDK ABI version (see sdk/include/quanqu/sdk/abi.h and docs/sdk.md).
struct AbiVersion {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;

  std::string text() const { return std::to_string(major) + "." + std::to_string(minor); }
  bool operator==(const AbiVersion&) const = default;
};

// The ABI this server provides (QUANQU_SDK_ABI_MAJOR.QUANQU_SDK_ABI_MINOR of its SDK headers).
AbiVersion host_abi();

// Whether a plugin built for `plugin` can run on a host providing `host`: the same major and a
// minor no newer than the host's.
bool abi_compatible(AbiVersion plugin, AbiVersion host);

// The extension points a manifest may list under "provides".
const std::vector<std::string>& known_extension_points();

// The manifest, as validated. JSON shape (docs/sdk.md):
//   {"name": "template", "version": "0.1.0", "sdk_abi": "1.0", "library": "template.so",
//    "description": "...", "provides": ["routes"], "config_schema": {"type": "object", ...},
//    "network": {"outgoing": ["api.example.com", "127.0.0.1:9000"]}}
struct Manifest {
  std::string name;                   // [a-z0-9][a-z0-9-]*, at most 63 characters: URL and label safe
  std::string version;                // the plugin's own version, non-empty
  AbiVersion sdk_abi;                 // "MAJOR.MINOR" in JSON
  std::string library;                // file name relative to the manifest's directory; default "<name>.so"
  std::string description;            // may be empty
  std::vector<std::string> provides;  // each one of known_extension_points(), no duplicates
  nlohmann::json config_schema = nlohmann::json::object();  // a JSON Schema for its per-channel config
  // "network.outgoing": the hosts it reaches, itself or through the host's fetch (at most
  // kMaxOutgoingHosts, no duplicates). Empty: it declares none, and a runner gets no network.
  std::vector<OutgoingHost> outgoing_hosts;
};

// Validates a parsed manifest. Errors are `invalid_argument`, code "plugin.invalid_manifest", with
// one FieldError per offending field.
Result<Manifest> parse_manifest(const nlohmann::json& json);

// Reads and validates a manifest file; unreadable or malformed JSON is "plugin.invalid_manifest" too.
Result<Manifest> read_manifest(const std::filesystem::path& file);

// True for a valid plugin name (see Manifest::name).
bool is_valid_plugin_name(std::string_view name);

}  // namespace quanqu::plugins
