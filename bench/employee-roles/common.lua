-- Shared by get.lua and deactivate.lua: the caller headers the gatekeeper would set.
headers = {
  ["x-consumer-id"] = "00000000-0000-4000-8000-0000000000ee",
  ["x-consumer-metadata"] = '{"client_id":"00000000-0000-4000-8000-00000000000a","scope":"employee_role:read employee_role:write"}',
}
function role_id(n)
  return string.format("00000000-0000-4000-8000-%012x", n)
end
