-- POST /api/v1/assessments with a PHQ-9, as a kiosk sends it. Every request
-- stores a new result (no Idempotency-Key).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instrument":"phq9","answers":[0,1,2,3,0,1,2,3,0],"difficulty":1}'

done = function(summary, latency, requests)
  -- Anything but 201 would mean the rate is not of stored results.
  io.write(string.format("non_2xx %d\n", summary.errors.status))
  io.write(string.format("p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
end
