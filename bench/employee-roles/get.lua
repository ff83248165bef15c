-- wrk: GET /api/employee_roles/{id} for a random seeded role. args: nroles
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
function init(args)
  nroles = tonumber(args[1])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  return wrk.format("GET", "/api/employee_roles/" .. role_id(math.random(1, nroles)), headers)
end
