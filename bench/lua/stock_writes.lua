-- Background load of the product_by_handle_during_stock_writes scenario: PUTs the stock level of
-- one SKU that is not the product being read, alternating two values, as fast as its connections allow.
local sku = os.getenv("BENCH_STOCK_SKU")
local location = os.getenv("BENCH_STOCK_LOCATION")
local headers = {["Authorization"] = "Bearer " .. os.getenv("BENCH_ADMIN_KEY"), ["Content-Type"] = "application/json"}
local n = 0

request = function()
  n = n + 1
  local body = string.format('{"sku":"%s","location_id":"%s","on_hand":%d}', sku, location, 500 + n % 2)
  return wrk.format("PUT", "/v1/admin/inventory-levels", headers, body)
end
