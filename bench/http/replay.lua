-- wrk script: replays one pre-signed request (made by presign.py, path in $TS_BENCH_REQUEST)
-- on every keep-alive connection and counts the answers that were not 200. With
-- $TS_BENCH_DELAY_MS each connection waits that long between an answer and its next request:
-- a fixed load below saturation, at which latency shows a call's own cost, not queueing.
--
-- The request is static (wrk.method/path/headers/body, no request() function): wrk formats
-- it once per thread and writes the same buffer every time. A request() function returning
-- the string would make wrk copy it for every request, which for a 1 MB PutLogEvents body
-- cost the load generator a third of its CPU, taken from the server on a 2-CPU machine.
local spec = dofile(os.getenv("TS_BENCH_REQUEST"))
local delay_ms = tonumber(os.getenv("TS_BENCH_DELAY_MS") or "")
local threads = {}
non200 = 0
wrk.method = spec.method
wrk.path = spec.path
wrk.headers = spec.headers
wrk.body = spec.body

function setup(thread)
  table.insert(threads, thread)
end

if delay_ms then
  function delay()
    return delay_ms
  end
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
  end
  io.write(string.format("requests %d non200 %d errors %d rps %.1f p50_us %d p99_us %d\n",
    summary.requests, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99)))
end
