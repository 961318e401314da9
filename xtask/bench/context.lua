-- wrk script: the authenticated route that touches no table of its own
-- (GET /v1/mcp/api-key-context), rotating over the keys of TARGETS.
local targets_file = os.getenv("TARGETS") or "targets.txt"
local keys, n, counter = {}, 0, 0

function init(args)
  for line in io.lines(targets_file) do
    local k = line:match("^(%S+)")
    if k then n = n + 1; keys[n] = k end
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/mcp/api-key-context", { ["X-Api-Key"] = keys[(counter % n) + 1] })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sock_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
