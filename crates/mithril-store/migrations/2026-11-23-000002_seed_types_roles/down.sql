DELETE FROM roles;
DELETE FROM client_types;
