#!/usr/bin/env bash
# A storefront's purchase over the store API with curl: browse, cart, details, checkout, order.
# Usage: purchase.sh BASE_URL PUBLISHABLE_KEY   (e.g. http://127.0.0.1:8080 qq_pk_...)
set -euo pipefail
base=${1:?base URL}
key=${2:?publishable key}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
call() {  # METHOD PATH [BODY] -> prints the body, fails on a non-2xx status
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" "$base$path" -H "X-Publishable-Key: $key" -H 'Content-Type: application/json'
              -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-d "$body")
  [ "$method" = POST ] && [[ $path == */checkout ]] && args+=(-H "Idempotency-Key: example-$$-$RANDOM")
  local out status
  out=$(curl "${args[@]}")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "${status:0:1}" != 2 ]; then echo "$method $path -> $status: $out" >&2; exit 1; fi
  printf '%s' "$out"
}

# Browse: the first in-stock variant of the first product.
products=$(call GET '/v1/store/products?limit=5')
handle=$(echo "$products" | json 'd["items"][0]["handle"]')
product=$(call GET "/v1/store/products/$handle")
sku=$(echo "$product" | json '[v["sku"] for v in d["variants"] if v["in_stock"]][0]')
echo "product: $handle, variant: $sku"

# Cart: create, add, set the shopper's details.
cart=$(call POST /v1/store/carts '{}' | json 'd["id"]')
call POST "/v1/store/carts/$cart/items" "{\"sku\": \"$sku\", \"quantity\": 1}" >/dev/null
call PATCH "/v1/store/carts/$cart" '{"email": "shopper@example.cn", "shipping_address":
  {"name": "Li Wei", "line1": "1 Nanjing East Rd", "city": "Shanghai", "country": "CN"}}' >/dev/null
total=$(call GET "/v1/store/carts/$cart" | json 'd["totals"]["total"]')
echo "cart: $cart, total: $total"

# Checkout, then read the order back with its access token.
order=$(call POST "/v1/store/carts/$cart/checkout" '{}')
id=$(echo "$order" | json 'd["id"]')
token=$(echo "$order" | json 'd["access_token"]')
status=$(curl -sS "$base/v1/store/orders/$id" -H "X-Publishable-Key: $key" -H "X-Order-Token: $token" | json 'd["status"]')
echo "order: $id, status: $status"
[ "$status" = placed ]
