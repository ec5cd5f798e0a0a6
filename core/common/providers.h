// The providers the core calls out to (payment, fulfilment, channel adapters), behind one interface the plugin host implements.
#pragma once

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <string>

namespace quanqu {

// Runs provider operations for the core without the core knowing plugins. The answer is the
// provider's JSON reply. A business refusal ({"refusal": {"code", "message"}}) comes back as an
// `unprocessable` error with the provider's code; a broken or missing provider as an error with
// code "plugin_error" (502) or "provider.unavailable" (503).
class Providers {
 public:
  virtual ~Providers() = default;
  // kind: "payment", "fulfilment", "channel_adapter", "size_advisor".
  virtual bool has(const std::string& kind, const std::string& name) const = 0;
  // `channel_configs` is the channel's config map (plugin name -> config): the provider gets its
  // own plugin's entry as input["config"].
  virtual Result<nlohmann::json> invoke(const std::string& kind, const std::string& name, const std::string& operation,
                                        nlohmann::json input, const nlohmann::json& channel_configs) = 0;
  // The caller found a reply unusable (an unknown status, a negative amount): counted and
  // logged against the provider's plugin like a failure inside it.
  virtual void report_invalid(const std::string& kind, const std::string& name, const std::string& detail) {
    (void)kind, (void)name, (void)detail;
  }
};

// No providers at all: an engine without plugins, and unit tests.
class NoProviders final : public Providers {
 public:
  bool has(const std::string&, const std::string&) const override { return false; }
  Result<nlohmann::json> invoke(const std::string& kind, const std::string& name, const std::string&, nlohmann::json,
                                const nlohmann::json&) override {
    return Error::make(ErrorKind::unavailable, "provider.unavailable",
                       "no " + kind + " provider '" + name + "' is loaded");
  }
};

}  // namespace quanqu
