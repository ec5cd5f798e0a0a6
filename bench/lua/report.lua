-- wrk done() hook for bench/run.sh: prints one machine-readable result line (latencies in microseconds).

local bench_threads = {}

setup = function(thread)
  table.insert(bench_threads, thread)
  thread:set("bench_tid", #bench_threads - 1)
end

done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  -- Status tallies exist only when the script also defines response() (see add_to_cart.lua).
  local statuses, first_error = {}, nil
  for _, t in ipairs(bench_threads) do
    local s = t:get("bench_statuses")
    if type(s) == "table" then
      for k, v in pairs(s) do statuses[k] = (statuses[k] or 0) + v end
    end
    local fe = t:get("bench_first_error")
    if first_error == nil and type(fe) == "string" then first_error = fe end
  end
  local parts = {}
  for k, v in pairs(statuses) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local function json_string(s)
    if s == nil then return "null" end
    s = string.sub(s, 1, 600)
    s = string.gsub(s, '[%c"\\]', function(c)
      if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
    end)
    return '"' .. s .. '"'
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"bytes":%d,"rps":%.2f,' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"non_2xx_3xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"statuses":{%s},"first_error_body":%s}\n',
    summary.requests, seconds, summary.bytes, summary.requests / seconds,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ","), json_string(first_error)))
end
