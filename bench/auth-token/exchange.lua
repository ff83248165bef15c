-- wrk: POST /oauth/tokens with a fresh code per request; each thread walks its own range.
-- args: base stride
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local base, stride = tonumber(args[1]), tonumber(args[2])
  n = base + tid * stride
end
function request()
  n = n + 1
  local body = '{"token":{"grant_type":"authorization_code","client_id":"00000000-0000-7000-8000-0000000000aa",' ..
    '"client_secret":"bench-secret","code":"code-' .. n .. '","redirect_uri":"https://mis.example.com/cb"}}'
  return wrk.format("POST", "/oauth/tokens", {["Content-Type"] = "application/json"}, body)
end
