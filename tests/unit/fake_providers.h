// A scripted Providers (the plugin host's interface to the core) for core unit tests.
#pragma once

#include "common/providers.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace quanqu::test_support {

// Providers that answer what the test scripted and record every call. A refusal comes back as
// the plugin host gives it (422 with the provider's code), a failure as a plugin_error.
class FakeProviders final : public Providers {
 public:
  struct Call {
    std::string kind, name, operation;
    nlohmann::json input, configs;
  };
  using Answer = std::function<Result<nlohmann::json>(const nlohmann::json& input)>;

  void respond(const std::string& kind, const std::string& name, const std::string& op, Answer answer) {
    std::lock_guard lock(mutex_);
    names_.insert(kind + ":" + name);
    answers_[kind + ":" + name + ":" + op] = std::move(answer);
  }
  void answer(const std::string& kind, const std::string& name, const std::string& op, nlohmann::json reply) {
    respond(kind, name, op, [reply](const nlohmann::json&) -> Result<nlohmann::json> { return reply; });
  }
  void refuse(const std::string& kind, const std::string& name, const std::string& op, const std::string& code) {
    respond(kind, name, op, [code](const nlohmann::json&) -> Result<nlohmann::json> {
      return Error::unprocessable(code, "the provider refused: " + code);
    });
  }
  void fail(const std::string& kind, const std::string& name, const std::string& op) {
    respond(kind, name, op, [name](const nlohmann::json&) -> Result<nlohmann::json> {
      return Error::make(ErrorKind::internal, "plugin_error", "plugin '" + name + "' crashed",
                         nlohmann::json{{"plugin", name}});
    });
  }

  bool has(const std::string& kind, const std::string& name) const override {
    std::lock_guard lock(mutex_);
    return names_.count(kind + ":" + name) > 0;
  }
  void report_invalid(const std::string& kind, const std::string& name, const std::string&) override {
    std::lock_guard lock(mutex_);
    invalid.push_back(kind + ":" + name);
  }
  std::vector<std::string> invalid;  // providers reported for an unusable answer
  Result<nlohmann::json> invoke(const std::string& kind, const std::string& name, const std::string& operation,
                                nlohmann::json input, const nlohmann::json& channel_configs) override {
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back({kind, name, operation, input, channel_configs});
      auto it = answers_.find(kind + ":" + name + ":" + operation);
      if (it != answers_.end()) answer = it->second;
    }
    if (!answer)
      return Error::make(ErrorKind::internal, "plugin_error",
                         "nothing scripted for " + kind + " " + name + " " + operation,
                         nlohmann::json{{"plugin", name}});
    return answer(input);
  }

  std::vector<Call> calls(const std::string& operation = "") const {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const auto& c : calls_)
      if (operation.empty() || c.operation == operation) out.push_back(c);
    return out;
  }
  void forget_calls() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> names_;
  std::map<std::string, Answer> answers_;
  std::vector<Call> calls_;
};

}  // namespace quanqu::test_support
