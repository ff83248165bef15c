-- wrk: PATCH /api/employee_roles/{id}/actions/deactivate, a fresh ACTIVE role per request; each
-- thread walks its own range. args: base stride
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
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
  return wrk.format("PATCH", "/api/employee_roles/" .. role_id(n) .. "/actions/deactivate", headers)
end
