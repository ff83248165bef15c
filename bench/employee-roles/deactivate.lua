-- wrk: PATCH /api/employee_roles/{id}/actions/deactivate, a fresh ACTIVE role per request; each
-- thread walks its own range. args: base stride
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
dofile(os.getenv("BENCH_LIB") .. "/walk.lua")
function request()
  return wrk.format("PATCH", "/api/employee_roles/" .. role_id(next_n()) .. "/actions/deactivate", headers)
end
