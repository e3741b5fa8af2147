-- A share BENCH_READ_SHARE (0.9) of availability reads of a random SKU, the rest one-line
-- reservations of a random (SKU, location) with a quantity in [BENCH_QUANTITY_MIN,
-- BENCH_QUANTITY_MAX] and a TTL of BENCH_TTL_SECONDS (short, so the expiry sweeper works).
-- Reads answer 200, reservations 201 (or 409): the status counts tell them apart.
local common = require("common")

local read_share = tonumber(common.env("BENCH_READ_SHARE", "0.9"))
local quantity_min = tonumber(common.env("BENCH_QUANTITY_MIN", "1"))
local quantity_max = tonumber(common.env("BENCH_QUANTITY_MAX", "2"))
local ttl = tonumber(common.env("BENCH_TTL_SECONDS", "5"))
local BODY = '{"lines":[{"sku":"%s","location":"%s","quantity":%d}],"ttl_seconds":%d}'

common.run(function()
  if math.random() < read_share then
    local path = "/api/v1/availability/" .. common.random_sku() .. "/"
    return wrk.format("GET", path, common.get_headers())
  end
  local body = string.format(
    BODY, common.random_sku(), common.random_location(),
    math.random(quantity_min, quantity_max), ttl
  )
  return wrk.format("POST", "/api/v1/reservations/", common.json_headers(), body)
end)
