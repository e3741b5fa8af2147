-- What every benchmark script shares: the API key, unique idempotency keys, the catalog's
-- names, optional status counts and per-request timing, and one machine-readable summary line.
--
-- wrk loads a script once in its main Lua state (setup, done) and once per thread (init,
-- request, response). bench/wrk.py runs wrk from this directory (so `require "common"` finds
-- this file) with the environment below:
--   BENCH_TOKEN         API key, sent as `Authorization: Bearer`
--   BENCH_NONCE         per run: idempotency keys are "<nonce>-<thread>-<counter>"
--   BENCH_SKUS, BENCH_LOCATIONS, BENCH_SKU_FORMAT, BENCH_LOCATION_FORMAT   the catalog
--   BENCH_TRACK         none | statuses (a response() counter) | latency (statuses, and each
--                       request timed from request() to response(): one connection per thread)
--   BENCH_THREADS, BENCH_MAX_REQUESTS   stop after that many answers in all (latency mode)
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]

local M = {}

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then
    if default == nil then
      error(name .. " is not set")
    end
    return default
  end
  return value
end

M.env = env
M.token = env("BENCH_TOKEN")
M.nonce = env("BENCH_NONCE")
M.skus = tonumber(env("BENCH_SKUS", "1"))
M.locations = tonumber(env("BENCH_LOCATIONS", "1"))
M.sku_format = env("BENCH_SKU_FORMAT", "SKU-%07d")
M.location_format = env("BENCH_LOCATION_FORMAT", "loc-%03d")
local track = env("BENCH_TRACK", "none")
local threads_total = tonumber(env("BENCH_THREADS", "1"))
local max_requests = tonumber(env("BENCH_MAX_REQUESTS", "0"))

local timespec = ffi.new("bench_timespec")
local CLOCK_REALTIME = 0

-- Microseconds since the epoch (the clock Python's time.time() and the server's timestamps use).
function M.now_us()
  ffi.C.clock_gettime(CLOCK_REALTIME, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + math.floor(tonumber(timespec.tv_nsec) / 1000)
end

function M.random_sku()
  return string.format(M.sku_format, math.random(0, M.skus - 1))
end

function M.random_location()
  return string.format(M.location_format, math.random(0, M.locations - 1))
end

-- Headers of every request (a table per thread: wrk.format fills in Host and Content-Length).
M.headers = {
  ["Authorization"] = "Bearer " .. M.token,
  ["Accept"] = "application/json",
}

local counter = 0

function M.idempotency_key()
  return M.nonce .. "-" .. id .. "-" .. counter
end

function M.json_headers()
  M.headers["Content-Type"] = "application/json"
  M.headers["Idempotency-Key"] = M.idempotency_key()
  return M.headers
end

function M.get_headers()
  M.headers["Content-Type"] = nil
  M.headers["Idempotency-Key"] = nil
  return M.headers
end

local function encode(value)
  local kind = type(value)
  if kind == "table" then
    if #value > 0 then
      local parts = {}
      for index = 1, #value do
        parts[index] = encode(value[index])
      end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local parts = {}
    for key, item in pairs(value) do
      parts[#parts + 1] = '"' .. tostring(key) .. '":' .. encode(item)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      return "null"
    end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return '"' .. value:gsub('[%c"\\]', "") .. '"'
  elseif kind == "boolean" then
    return tostring(value)
  end
  return "null"
end

-- Defines wrk's hooks around `make_request` (called once per request, returns wrk.format(...)).
function M.run(make_request)
  local threads = {}

  function setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
  end

  function init(args)
    math.randomseed(tonumber(string.sub(M.nonce, 1, 7), 16) + id * 7919)
    -- Flat tables only: wrk copies a thread's table to done() shallowly (nested ones crash it).
    statuses, latency_values, latency_statuses, ok_times = {}, {}, {}, {}
    answered, first_sent_us, sent_at = 0, 0, 0
    quota = 0
    if max_requests > 0 then
      quota = math.floor(max_requests / threads_total)
      if id <= max_requests % threads_total then
        quota = quota + 1
      end
    end
  end

  function request()
    counter = counter + 1
    if track == "latency" then
      sent_at = M.now_us()
      if first_sent_us == 0 then
        first_sent_us = sent_at
      end
    end
    return make_request()
  end

  if track ~= "none" then
    function response(status, headers, body)
      local code = tostring(status)
      statuses[code] = (statuses[code] or 0) + 1
      if track == "latency" then
        local now = M.now_us()
        latency_values[#latency_values + 1] = now - sent_at
        latency_statuses[#latency_statuses + 1] = status
        if status >= 200 and status < 300 then
          ok_times[#ok_times + 1] = now
        end
      end
      answered = answered + 1
      if quota > 0 and answered >= quota then
        -- This thread's share is answered: tell the harness (which interrupts wrk once every
        -- thread has said so) and send nothing more.
        io.stdout:write("bench:thread-done\n")
        io.stdout:flush()
        wrk.thread:stop()
      end
    end
  end

  function done(summary, latency, requests)
    local result = {
      requests = summary.requests,
      duration_us = summary.duration,
      errors = {
        connect = summary.errors.connect,
        read = summary.errors.read,
        write = summary.errors.write,
        status = summary.errors.status,
        timeout = summary.errors.timeout,
      },
      latency_us = {
        p50 = latency:percentile(50),
        p90 = latency:percentile(90),
        p99 = latency:percentile(99),
        max = latency.max,
        mean = latency.mean,
      },
      track = track,
      statuses = {},
      latencies_us = {},
      ok_times_us = {},
      first_sent_us = {},
    }
    for _, thread in ipairs(threads) do
      for code, count in pairs(thread:get("statuses") or {}) do
        result.statuses[code] = (result.statuses[code] or 0) + count
      end
      local statuses_of = thread:get("latency_statuses") or {}
      for index, value in ipairs(thread:get("latency_values") or {}) do
        local code = tostring(statuses_of[index])
        local all = result.latencies_us[code]
        if all == nil then
          all = {}
          result.latencies_us[code] = all
        end
        all[#all + 1] = value
      end
      for _, value in ipairs(thread:get("ok_times") or {}) do
        result.ok_times_us[#result.ok_times_us + 1] = value
      end
      local first = thread:get("first_sent_us")
      if first and first > 0 then
        result.first_sent_us[#result.first_sent_us + 1] = first
      end
    end
    io.write("bench:result ", encode(result), "\n")
  end
end

return M
