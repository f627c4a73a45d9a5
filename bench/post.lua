-- wrk script: POST one GraphQL query (BODY_FILE) with a bearer token (TOKEN),
-- count non-200 responses and bodies carrying "errors", report p50/p95/p99.
-- DELAY_MS (optional) waits between requests of a connection: a steady rate for soaks.
local body_file = os.getenv("BODY_FILE")
local f = assert(io.open(body_file, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0
  error_bodies = 0
end

function delay()
  return delay_ms
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif string.find(body, '"errors"', 1, true) then
    error_bodies = error_bodies + 1
  end
end

function done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad_status")
    errs = errs + t:get("error_bodies")
  end
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f non200=%d error_bodies=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    bad, errs, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
