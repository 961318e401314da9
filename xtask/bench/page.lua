-- wrk script: one list request over and over, `TARGETS` holding "KEY PATH" on its
-- first line (the page-cost comparison of `cargo xtask bench`).
local targets_file = os.getenv("TARGETS") or "targets.txt"
local key, path

function init(args)
  for line in io.lines(targets_file) do
    key, path = line:match("^(%S+)%s+(%S+)")
    if key then break end
  end
end

function request()
  return wrk.format("GET", path, { ["X-Api-Key"] = key })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sock_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
