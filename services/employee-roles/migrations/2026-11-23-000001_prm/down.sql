DROP TABLE audit_log;
DROP TABLE employee_roles;
DROP TABLE healthcare_services;
DROP TABLE employees;
DROP TABLE legal_entities;
