-- POST /api/v1/reservations/: one line, a random (SKU, location) of the catalog (one of each
-- for the hot SKU), a random quantity in [BENCH_QUANTITY_MIN, BENCH_QUANTITY_MAX], a TTL of
-- BENCH_TTL_SECONDS, a fresh Idempotency-Key per request.
local common = require("common")

local quantity_min = tonumber(common.env("BENCH_QUANTITY_MIN", "1"))
local quantity_max = tonumber(common.env("BENCH_QUANTITY_MAX", "1"))
local ttl = tonumber(common.env("BENCH_TTL_SECONDS", "900"))
local BODY = '{"lines":[{"sku":"%s","location":"%s","quantity":%d}],"ttl_seconds":%d}'

common.run(function()
  local body = string.format(
    BODY, common.random_sku(), common.random_location(),
    math.random(quantity_min, quantity_max), ttl
  )
  return wrk.format("POST", "/api/v1/reservations/", common.json_headers(), body)
end)
