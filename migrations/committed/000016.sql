--! Previous: sha1:387414bbbcc5d927befc60a461db4ae6fc21e010
--! Hash: sha1:f657ea6588d9f989c0fc81aae100c2b056defbde

--! split: 1-current.sql
/*
 * The worker's role (DATABASE_WORKER, created by the launcher's bootstrap) may call the functions
 * its tasks need, one grant each, and nothing else of HMS's schemas: no table privilege, no RLS
 * bypass. A task that changes data does it through a function of the owner that checks what it
 * is given (security definer, pinned search_path), as the API's RPCs do.
 */
grant usage on schema app_hidden to :DATABASE_WORKER;

-- worker/src/tasks/partitions__create_ahead.ts (daily): creating a partition needs the table's
-- owner, so the function runs with its owner's rights.
alter function app_hidden.create_partitions_ahead(integer) security definer set search_path = pg_catalog, public, pg_temp;
grant execute on function app_hidden.create_partitions_ahead(integer) to :DATABASE_WORKER;
comment on function app_hidden.create_partitions_ahead(integer) is 'Creates the missing monthly partitions of every partitioned table of app_public from this month through p_months ahead; answers how many it created. npm start runs it at every start, the worker every day (worker/crontab: partitions__create_ahead).';

/*
 * worker/src/tasks/sessions__purge_expired.ts (hourly): sessions that ended — expired or revoked —
 * more than p_keep ago go, with their refresh tokens and token hashes (foreign keys cascade), and
 * so do the token hashes of password e-mails no longer usable (used, revoked or expired). The
 * trail keeps what happened: logins, refreshes and logouts are in audit_logs with the session's
 * id, which is not a foreign key. A session that ended recently stays p_keep for the super
 * admin's and the security review's sight of it.
 */
create or replace function app_private.purge_expired_sessions(p_keep interval default interval '30 days')
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_sessions integer;
  v_tokens integer;
begin
  if p_keep is null or p_keep < interval '0' then
    raise exception 'purge_expired_sessions: p_keep must be a non-negative interval';
  end if;
  delete from app_private.sessions s
   where least(s.expires_at, coalesce(s.revoked_at, 'infinity')) < now() - p_keep;
  get diagnostics v_sessions = row_count;
  delete from app_private.password_email_tokens t
   using app_public.password_emails e
   where e.id = t.password_email_id
     and (e.status in ('used', 'revoked', 'expired') or e.expires_at < now());
  get diagnostics v_tokens = row_count;
  return jsonb_build_object('sessions', v_sessions, 'password_email_tokens', v_tokens);
end;
$$;
comment on function app_private.purge_expired_sessions(interval) is 'Deletes the sessions that ended (expired or revoked) more than p_keep ago, with their refresh tokens, and the token hashes of password e-mails that can no longer be used; answers the counts. Run hourly by the worker (sessions__purge_expired).';
revoke execute on function app_private.purge_expired_sessions(interval) from public;
grant usage on schema app_private to :DATABASE_WORKER;
grant execute on function app_private.purge_expired_sessions(interval) to :DATABASE_WORKER;
