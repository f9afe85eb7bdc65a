-- wrk script of the appeals benchmark (bench/cases.py).
--
--   wrk -t THREADS -s bench/wrk/cases.lua URL -- DATA_FILE MODE TAG THREADS
--
-- DATA_FILE is a Lua chunk written by the benchmark: { path = "...", sessions = { {cookie, csrf, bodies, ids}, ... } }.
-- MODE "post": POST `path` with one of the session's JSON bodies, its session cookie and CSRF header, and an
--              Idempotency-Key unique per request (TAG-thread-counter), so every request is a new case.
-- MODE "get":  GET `path` .. id for one of the session's case ids.
-- Sessions rotate per request, each wrk thread over its own share of them. done() prints one line "BENCHJSON {...}" with the request count, the duration,
-- latency percentiles (microseconds), socket errors and the count of each HTTP status.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local data, mode, tag, nthreads
local counter = 0

function init(args)
  data = dofile(args[1])
  mode = args[2] or "post"
  tag = args[3] or "run"
  nthreads = tonumber(args[4] or "1")
  codes = {}
  math.randomseed(id * 7919 + os.time())
end

function request()
  counter = counter + 1
  local s = data.sessions[((counter * nthreads + id - 1) % #data.sessions) + 1]
  if mode == "get" then
    local pk = s.ids[math.random(#s.ids)]
    return wrk.format("GET", data.path .. pk, { ["Cookie"] = s.cookie, ["Accept"] = "application/json" })
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["Cookie"] = s.cookie,
    ["X-CSRFToken"] = s.csrf,
    ["Idempotency-Key"] = string.format("%s-%d-%d", tag, id, counter),
  }
  return wrk.format("POST", data.path, headers, s.bodies[math.random(#s.bodies)])
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes") or {}
    for k, v in pairs(c) do
      all[k] = (all[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(all) do
    table.insert(parts, string.format('"%d": %d', k, v))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "codes": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ", ")
  ))
end
