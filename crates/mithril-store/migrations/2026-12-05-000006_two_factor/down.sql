ALTER TABLE users DROP COLUMN otp_error_counter;
DROP TABLE otps;
DROP TABLE authentication_factors;
