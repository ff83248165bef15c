DROP TABLE IF EXISTS tokens, apps, global_user_roles, user_roles, connections, clients, users, roles, client_types;
