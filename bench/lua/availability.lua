-- GET /api/v1/availability/<sku>/ for a random SKU of the catalog.
local common = require("common")

common.run(function()
  local path = "/api/v1/availability/" .. common.random_sku() .. "/"
  return wrk.format("GET", path, common.get_headers())
end)
