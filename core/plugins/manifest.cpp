// Manifest parsing and validation, and the ABI compatibility rule.
#include "plugins/manifest.h"

#include "plugins/config_schema.h"

#include <quanqu/sdk/abi.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace quanqu::plugins {

AbiVersion host_abi() {
  return {QUANQU_SDK_ABI_MAJOR, QUANQU_SDK_ABI_MINOR};
}

bool abi_compatible(AbiVersion plugin, AbiVersion host) {
  return plugin.major == host.major && plugin.minor <= host.minor;
}

const std::vector<std::string>& known_extension_points() {
  static const std::vector<std::string> all{
      "routes", "channel_adapter", "payment_provider", "fulfilment_provider", "event_subscriber", "size_advisor"};
  return all;
}

bool is_valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

namespace {

bool parse_abi(std::string_view text, AbiVersion& out) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size()) return false;
  auto parse = [](std::string_view s, std::uint32_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
  };
  return parse(text.substr(0, dot), out.major) && parse(text.substr(dot + 1), out.minor);
}

bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos && s.find('\\') == std::string::npos;
}

}  // namespace

Result<Manifest> parse_manifest(const nlohmann::json& json) {
  if (!json.is_object()) return Error::invalid("plugin.invalid_manifest", "a manifest is a JSON object");
  Manifest m;
  std::vector<FieldError> errors;
  auto text = [&](const char* field, std::string& out, bool required) {
    auto it = json.find(field);
    if (it == json.end()) {
      if (required) errors.push_back({field, "is required"});
      return;
    }
    if (!it->is_string()) {
      errors.push_back({field, "must be a string"});
      return;
    }
    out = it->get<std::string>();
  };

  text("name", m.name, true);
  if (json.contains("name") && json["name"].is_string() && !is_valid_plugin_name(m.name))
    errors.push_back({"name", "must be 1 to 63 of a-z, 0-9 and '-', not starting with '-'"});
  text("version", m.version, true);
  if (json.contains("version") && json["version"].is_string() && m.version.empty())
    errors.push_back({"version", "must not be empty"});

  std::string abi;
  text("sdk_abi", abi, true);
  if (json.contains("sdk_abi") && json["sdk_abi"].is_string() && !parse_abi(abi, m.sdk_abi))
    errors.push_back({"sdk_abi", "must be \"MAJOR.MINOR\", e.g. \"1.0\""});

  text("library", m.library, false);
  if (json.contains("library") && json["library"].is_string() && !plain_file_name(m.library))
    errors.push_back({"library", "must be a file name in the manifest's directory"});
  if (!json.contains("library") && !m.name.empty()) m.library = m.name + ".so";

  text("description", m.description, false);

  if (auto it = json.find("provides"); it != json.end()) {
    if (!it->is_array()) {
      errors.push_back({"provides", "must be an array of extension point names"});
    } else {
      const auto& known = known_extension_points();
      for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& v = (*it)[i];
        std::string field = "provides/" + std::to_string(i);
        if (!v.is_string() || std::find(known.begin(), known.end(), v.get<std::string>()) == known.end()) {
          std::string list;
          for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
          errors.push_back({field, "must be one of " + list});
        } else if (std::find(m.provides.begin(), m.provides.end(), v.get<std::string>()) != m.provides.end()) {
          errors.push_back({field, "is listed twice"});
        } else {
          m.provides.push_back(v.get<std::string>());
        }
      }
    }
  }

  if (auto it = json.find("config_schema"); it != json.end()) {
    if (!it->is_object())
      errors.push_back({"config_schema", "must be a JSON Schema object"});
    else if (auto checked = check_schema(*it); !checked)
      for (const auto& f : checked.error().fields)
        errors.push_back({"config_schema" + f.field, f.message});
    else
      m.config_schema = *it;
  }

  if (auto it = json.find("network"); it != json.end()) {
    if (!it->is_object()) {
      errors.push_back({"network", "must be an object, e.g. {\"outgoing\": [\"api.example.com\"]}"});
    } else {
      for (const auto& [key, value] : it->items())
        if (key != "outgoing") errors.push_back({"network/" + key, "is not a known field (only outgoing)"});
      if (auto out = it->find("outgoing"); out != it->end()) {
        if (!out->is_array() || out->size() > kMaxOutgoingHosts) {
          errors.push_back({"network/outgoing", "must be an array of at most " + std::to_string(kMaxOutgoingHosts) +
                                                    " \"host\" or \"host:port\" strings"});
        } else {
          for (std::size_t i = 0; i < out->size(); ++i) {
            std::string field = "network/outgoing/" + std::to_string(i);
            std::string why = "must be a string";
            auto host = (*out)[i].is_string() ? parse_outgoing_host((*out)[i].get<std::string>(), &why) : std::nullopt;
            if (!host)
              errors.push_back({field, why});
            else if (std::find(m.outgoing_hosts.begin(), m.outgoing_hosts.end(), *host) != m.outgoing_hosts.end())
              errors.push_back({field, "is listed twice"});
            else
              m.outgoing_hosts.push_back(std::move(*host));
          }
        }
      }
    }
  }

  if (!errors.empty()) {
    std::string summary;
    for (const auto& e : errors) summary += (summary.empty() ? "" : "; ") + e.field + " " + e.message;
    return Error::invalid("plugin.invalid_manifest", "invalid manifest: " + summary, std::move(errors));
  }
  return m;
}

Result<Manifest> read_manifest(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::invalid("plugin.invalid_manifest", "cannot read manifest " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto json = nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return Error::invalid("plugin.invalid_manifest", "manifest " + file.string() + " is not valid JSON");
  return parse_manifest(json);
}

}  // namespace quanqu::plugins
