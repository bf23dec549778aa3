-- wrk script: batches of BATCH pageview events with unique ids, as the snippet sends them.
local batch = tonumber(os.getenv("BATCH") or "1")
local site = os.getenv("SITE") or "demo"
local run = os.getenv("RUN") or "r"
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

request = function()
  counter = counter + 1
  local evs = {}
  for i = 1, batch do
    evs[i] = string.format('{"type":"pageview","id":"%s-%d-%d","url":"https://shop.example/product/%d?utm_source=newsletter&utm_medium=email","ts":1764000000000,"ref":"https://www.google.com/","sid":"s%d","env":{"webdriver":false,"screen":"1920x1080","lang":"en-US","tz":"Europe/Paris"}}', run, counter, i, i % 50, counter)
  end
  return wrk.format(nil, "/api/collect", nil, '{"site":"' .. site .. '","events":[' .. table.concat(evs, ",") .. ']}')
end
