-- Run by `graphile-migrate reset` (as the root connection) after it recreates a database.
-- Keep in step with EXTENSIONS in db/launcher/bootstrap.ts.
create extension if not exists pgcrypto with schema public;
create extension if not exists citext with schema public;
create extension if not exists pg_trgm with schema public;
create extension if not exists btree_gist with schema public;
create extension if not exists btree_gin with schema public;
revoke all on database :DATABASE_NAME from public;
grant connect, temporary on database :DATABASE_NAME to :DATABASE_AUTHENTICATOR;
grant connect on database :DATABASE_NAME to :DATABASE_WORKER;
