-- A range of ids per wrk thread, so that every request uses a fresh one (a code to redeem, a
-- role to deactivate). args: base stride; `n` is the thread's next id after next_n().
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local base, stride = tonumber(args[1]), tonumber(args[2])
  n = base + tid * stride
end
function next_n()
  n = n + 1
  return n
end
