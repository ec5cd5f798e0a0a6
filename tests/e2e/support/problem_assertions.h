// GoogleTest assertions for problem+json replies, shared by the end-to-end tests.
#pragma once

#include "support/http_client.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace quanqu::e2e {

// A problem+json reply with this status and machine code, and every RFC 9457 member we promise.
inline ::testing::AssertionResult IsProblem(const HttpResponse& r, unsigned status, const std::string& code) {
  using nlohmann::json;
  if (r.status != status)
    return ::testing::AssertionFailure() << "status " << r.status << ", expected " << status << ": " << r.body;
  if (r.header("Content-Type").rfind("application/problem+json", 0) != 0)
    return ::testing::AssertionFailure() << "content type '" << r.header("Content-Type") << "': " << r.body;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return ::testing::AssertionFailure() << "body is not a JSON object: " << r.body;
  for (const char* member : {"type", "title", "detail", "code"})
    if (!j.contains(member) || !j[member].is_string() || j[member].get<std::string>().empty())
      return ::testing::AssertionFailure() << "member '" << member << "' missing or empty: " << r.body;
  if (!j.contains("status") || j["status"] != status)
    return ::testing::AssertionFailure() << "member 'status' is not " << status << ": " << r.body;
  if (j["code"] != code)
    return ::testing::AssertionFailure() << "code " << j["code"] << ", expected " << code << ": " << r.body;
  return ::testing::AssertionSuccess();
}

}  // namespace quanqu::e2e
