-- GET a random staff page: PAGE=/staff/cases/ or /staff/patients/ and
-- COUNT ids (1..COUNT), or PAGE=/staff alone. The session cookie comes in
-- COOKIE.
local page = os.getenv("PAGE") or "/staff"
local count = tonumber(os.getenv("COUNT") or "0")
wrk.headers["Cookie"] = os.getenv("COOKIE")

request = function()
  if count > 0 then
    return wrk.format("GET", page .. math.random(1, count))
  end
  return wrk.format("GET", page)
end

done = function(summary, latency, requests)
  io.write(string.format("non_2xx %d\n", summary.errors.status))
  io.write(string.format("p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
end
