DROP TRIGGER employee_roles_audit ON employee_roles;
DROP FUNCTION employee_roles_audit();
