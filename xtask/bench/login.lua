-- wrk script: sign-in attempts, all at once (`wrk -c500`), for the memory a burst of
-- logins costs. EMAIL and PASSWORD name an account that exists; every attempt runs
-- argon2id (19 MiB) unless the server refuses it first.
local email = os.getenv("EMAIL") or "storm@example.com"
local password = os.getenv("PASSWORD") or "correct horse battery staple"
local body = string.format('{"email": "%s", "password": "%s"}', email, password)

function request()
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end

local statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sock_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
