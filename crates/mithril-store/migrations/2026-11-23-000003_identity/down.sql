DELETE FROM users WHERE id = '4261eacf-8008-4e62-899f-de1e2f7065f0';
DROP TABLE login_failures, password_hstr;
