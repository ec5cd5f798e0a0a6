// Typed identifiers: a ProductId is never accepted where a VariantId is expected.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>

namespace quanqu {

// A string identifier tagged by what it identifies. Values look like "prod_0194c3...":
// a prefix, 12 hex digits of creation time in ms (so ids sort by creation) and 128 random bits.
template <class Tag>
struct Id {
  std::string value;

  Id() = default;
  explicit Id(std::string v) : value(std::move(v)) {}
  bool empty() const { return value.empty(); }
  auto operator<=>(const Id&) const = default;
};

using ProductId = Id<struct ProductTag>;
using VariantId = Id<struct VariantTag>;
using CategoryId = Id<struct CategoryTag>;
using ChannelId = Id<struct ChannelTag>;
using LocationId = Id<struct LocationTag>;
using CartId = Id<struct CartTag>;
using CartItemId = Id<struct CartItemTag>;
using OrderId = Id<struct OrderTag>;
using ApiKeyId = Id<struct ApiKeyTag>;
using CustomerId = Id<struct CustomerTag>;

// Creates a fresh identifier "<prefix>_<time hex><random hex>" from a CSPRNG.
std::string new_id(std::string_view prefix);

// True when `s` could be an identifier with this prefix (shape only, no lookup).
bool looks_like_id(std::string_view s, std::string_view prefix);

}  // namespace quanqu

template <class Tag>
struct std::hash<quanqu::Id<Tag>> {
  size_t operator()(const quanqu::Id<Tag>& id) const noexcept { return std::hash<std::string>{}(id.value); }
};
