-- wrk: POST /oauth/tokens with a fresh code per request; each thread walks its own range.
-- args: base stride
dofile(os.getenv("BENCH_LIB") .. "/walk.lua")
function request()
  next_n()
  local body = '{"token":{"grant_type":"authorization_code","client_id":"00000000-0000-7000-8000-0000000000aa",' ..
    '"client_secret":"bench-secret","code":"code-' .. n .. '","redirect_uri":"https://mis.example.com/cb"}}'
  return wrk.format("POST", "/oauth/tokens", {["Content-Type"] = "application/json"}, body)
end
