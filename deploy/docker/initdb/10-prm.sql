-- The postgres image creates POSTGRES_DB (mithril); employee-roles owns a second database.
CREATE DATABASE prm;
