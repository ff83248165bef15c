-- wrk: GET /admin/tokens/tok-N/verify for a random N. args: ntokens
function init(args)
  ntokens = tonumber(args[1])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  return wrk.format("GET", "/admin/tokens/tok-" .. math.random(1, ntokens) .. "/verify")
end
