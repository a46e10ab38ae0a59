-- Wrong-code checks cycling over the verificationIds in the file IDS (one per line): every answer should
-- be 401, each after a check at Vonage.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args) n = tid * 7 end
function request()
  n = n % #ids + 1
  local body = string.format('{"verificationId":"%s","code":"000000"}', ids[n])
  return wrk.format("POST", "/check-otp", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"rps\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"non2xx\":%d,\"errors\":%d,\"requests\":%d}\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
