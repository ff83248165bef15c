DROP TABLE party_users;
DROP TABLE parties;
