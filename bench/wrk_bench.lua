-- wrk script for bench/check_http.sh.  Both targets get the same treatment:
-- a table of ready-made requests built once in init() and handed out in
-- turn, so the load generator spends the same (small) effort per request
-- whether it talks to jitgate or to nginx.
--
--   wrk -s wrk_bench.lua URL -- check N   POST /v1/check for user-0..N-1
--                                          (token from $JG_BENCH_TOKEN)
--   wrk -s wrk_bench.lua URL -- static    GET /
local reqs = {}
local next_req = 0

function init(args)
   local mode = args[1] or "static"
   if mode == "check" then
      local n = tonumber(args[2]) or 1000
      local token = os.getenv("JG_BENCH_TOKEN")
      if token == nil then
         error("JG_BENCH_TOKEN is not set")
      end
      local headers = {
         ["Authorization"] = "Bearer " .. token,
         ["Content-Type"] = "application/json",
      }
      -- a stride that is prime to n walks the subjects in a scattered order
      for j = 0, math.min(n, 1000) - 1 do
         local subject = string.format("user-%d", (j * 7919) % n)
         local body = string.format(
            '{"subject":"%s","resource":"orders-db","role":"read"}', subject)
         reqs[#reqs + 1] = wrk.format("POST", "/v1/check", headers, body)
      end
   else
      for j = 1, 1000 do
         reqs[j] = wrk.format("GET", "/")
      end
   end
end

function request()
   next_req = next_req % #reqs + 1
   return reqs[next_req]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT rps=%.0f p50_us=%d p99_us=%d max_us=%d requests=%d " ..
      "non2xx=%d sockerr=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), latency.max,
      summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
