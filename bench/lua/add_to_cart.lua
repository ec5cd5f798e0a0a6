-- wrk script for bench/run.sh's add-to-cart scenario: POSTs quantity 1 of rotating SKUs to rotating carts.
--
-- Input (environment): BENCH_CART_IDS and BENCH_SKU_LIST, comma-separated; BENCH_WRK_THREADS.
-- Each wrk thread takes a disjoint share of the carts, so no two threads ever add to the same
-- cart, and with at least as many carts per thread as connections per thread no two requests
-- in flight target the same cart. Requests go cart after cart, then to the next SKU, so the
-- quantity spreads evenly over carts x SKUs lines; run.sh creates enough carts that no line
-- reaches the SKU's available stock (or the 10,000 cap) during a run.

local function split(s)
  local out = {}
  for item in string.gmatch(s or "", "[^,]+") do table.insert(out, item) end
  return out
end

local requests_ring, next_index = {}, 1
bench_statuses, bench_first_error = {}, nil

init = function(args)
  local carts = split(os.getenv("BENCH_CART_IDS"))
  local skus = split(os.getenv("BENCH_SKU_LIST"))
  local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS")) or 1
  local tid = bench_tid or 0
  assert(#carts > 0 and #skus > 0, "BENCH_CART_IDS and BENCH_SKU_LIST must be set")
  local mine = {}
  for i, c in ipairs(carts) do
    if #carts < nthreads or (i - 1) % nthreads == tid then table.insert(mine, c) end
  end
  -- Cart-major inner loop: consecutive requests go to different carts.
  for _, sku in ipairs(skus) do
    local body = '{"sku":"' .. sku .. '","quantity":1}'
    for _, cart in ipairs(mine) do
      table.insert(requests_ring, wrk.format("POST", "/v1/store/carts/" .. cart .. "/items", nil, body))
    end
  end
end

request = function()
  local r = requests_ring[next_index]
  next_index = next_index % #requests_ring + 1
  return r
end

response = function(status, headers, body)
  local k = tostring(status)
  bench_statuses[k] = (bench_statuses[k] or 0) + 1
  if status >= 400 and bench_first_error == nil then bench_first_error = body end
end
