create or replace function app_hidden.now() returns timestamptz language sql stable as $$ select pg_catalog.now() $$;
comment on function app_hidden.now() is 'The clock business rules read (pg_catalog.now() — the start of the transaction); tests stop it with tests.freeze_time().';
grant execute on function app_hidden.now() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;
