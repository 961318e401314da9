-- wrk script for `cargo xtask soak`: a mixed workload, rotating over the keys (one per
-- tenant) of TARGETS ("<api key> <instance id>" lines, interleaved across tenants).
--
-- Each thread walks a fixed cycle of ten requests: list, get, create, context, get,
-- start, update, context, stop, delete. Create names are unique per run; the thread
-- learns each new id from the 201 body and keeps a pool of the instances it created
-- (16 to 64, so the table stays about the same size). Start takes the newest stopped
-- one and update changes it; stop takes the one started LAG cycles earlier, so that
-- start has long been answered; delete takes the oldest. A request racing another on
-- the same instance can still answer 409 or 404: expected, and counted.
local targets_file = os.getenv("TARGETS") or "targets.txt"
local keys, seeded, n = {}, {}, 0
local threads = {}
local counter = 0
local key_slot = {}
-- Instances this thread created, oldest first: { slot, id, started, deleted }.
local owned, first, last = {}, 1, 0
-- Those it started and has not stopped yet, oldest first.
local running, rfirst, rlast = {}, 1, 0
local FLOOR, CAP, LAG = 16, 64, 4
local picked = nil
statuses = {}
ops = {}

local cycle = {
  "list", "get", "create", "context", "get",
  "start", "update", "context", "stop", "delete",
}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(targets_file) do
    local k, id = line:match("^(%S+)%s+(%S+)$")
    if k then
      n = n + 1
      keys[n] = k
      seeded[n] = id
      -- one slot per key: an owned instance is driven with its own tenant's key
      if not key_slot[k] then key_slot[k] = n end
    end
  end
  counter = (tid or 0) * 37 -- de-phase the threads
end

local function hdr(i, json)
  if json then
    return { ["X-Api-Key"] = keys[i], ["Content-Type"] = "application/json" }
  end
  return { ["X-Api-Key"] = keys[i] }
end

local function size() return last - first + 1 end

-- The newest instance not started, away from the oldest ones (next to be deleted).
local function pick_stopped()
  for j = last, first + 4, -1 do
    local e = owned[j]
    if not e.started then return e end
  end
  return nil
end

local function pop_started()
  while rlast - rfirst + 1 > LAG do
    local e = running[rfirst]
    running[rfirst] = nil
    rfirst = rfirst + 1
    if not e.deleted then return e end
  end
  return nil
end

function request()
  counter = counter + 1
  local i = (counter % n) + 1
  local op = cycle[(counter % #cycle) + 1]
  local e = nil
  if op == "create" and size() >= CAP then op = "delete" end
  if op == "delete" and size() <= FLOOR then op = "context" end
  if op == "start" then
    picked = pick_stopped()
    e = picked
  elseif op == "update" then
    e = picked
  elseif op == "stop" then
    e = pop_started()
  end
  if (op == "start" or op == "update" or op == "stop") and not e then op = "get" end
  ops[op] = (ops[op] or 0) + 1

  if op == "list" then
    return wrk.format("GET", "/v1/instances", hdr(i))
  elseif op == "get" then
    return wrk.format("GET", "/v1/instances/" .. seeded[i], hdr(i))
  elseif op == "context" then
    return wrk.format("GET", "/v1/mcp/api-key-context", hdr(i))
  elseif op == "create" then
    local body = string.format(
      '{"name":"soak-%d-%d-%d","runtime_image":"ghcr.io/acme/api:1.4.2","config":{"cpu":1,"memory_mb":512}}',
      key_slot[keys[i]], tid or 0, counter)
    return wrk.format("POST", "/v1/instances", hdr(i, true), body)
  elseif op == "start" then
    e.started = true
    rlast = rlast + 1
    running[rlast] = e
    return wrk.format("POST", "/v1/instances/" .. e.id .. "/start", hdr(e.slot))
  elseif op == "stop" then
    e.started = false
    return wrk.format("POST", "/v1/instances/" .. e.id .. "/stop", hdr(e.slot))
  elseif op == "update" then
    local body = string.format('{"config":{"cpu":2,"memory_mb":1024,"env":{"REV":"%d"}}}', counter)
    return wrk.format("PATCH", "/v1/instances/" .. e.id, hdr(e.slot, true), body)
  else -- delete, oldest first
    local victim = owned[first]
    owned[first] = nil
    first = first + 1
    victim.deleted = true
    return wrk.format("DELETE", "/v1/instances/" .. victim.id, hdr(victim.slot))
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  -- Only a create answers 201 in this mix; its name carries the key slot.
  if status == 201 then
    local id = body:match('"id":"([%x%-]+)"')
    local slot = body:match('"name":"soak%-(%d+)%-')
    if id and slot then
      last = last + 1
      owned[last] = { slot = tonumber(slot), id = id, started = false, deleted = false }
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
  local by_status, by_op = {}, {}
  for _, t in ipairs(threads) do
    for s, c in pairs(t:get("statuses") or {}) do by_status[s] = (by_status[s] or 0) + c end
    for o, c in pairs(t:get("ops") or {}) do by_op[o] = (by_op[o] or 0) + c end
  end
  for s, c in pairs(by_status) do io.write(string.format("STATUS %d %d\n", s, c)) end
  for o, c in pairs(by_op) do io.write(string.format("OP %s %d\n", o, c)) end
end
