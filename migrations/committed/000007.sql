--! Previous: sha1:2bf2d0b4a104d63950b7ca18eac8e48e6f788f03
--! Hash: sha1:5a57cdae872fb058bafd3cf6dbb8d8224df54a93

--! split: 1-current.sql
-- Enter migration here

--! split: 0100-forbidden-writes.sql
--! split: 0100-forbidden-writes.sql
/*
 * A forbidden write answers 403 whatever the verb.
 *
 * Row-level security alone answers a write the member may not make in three different ways: an
 * INSERT fails the policy's WITH CHECK (a raw 42501, no HMS code), an UPDATE or DELETE finds no row
 * (200 [] / 204, "nothing happened"). The error contract says 403 HMS_FORBIDDEN. So register_table
 * installs, per command a client may use, one BEFORE ... FOR EACH STATEMENT trigger
 * (_001_forbidden_<command>) that asks once per statement — not per row — whether the member
 * holds any permission the command needs (app_hidden.has_any_permission, the helper the policies
 * use), and refuses with HMS_FORBIDDEN naming the entity and the permissions when not.
 *
 * Who is checked: a member of staff writing as the API role hms_staff with a session, outside a
 * workflow. Workflow RPCs are security definer (current_user is the owner) and marked
 * (app_hidden.in_workflow()): they write on the member's behalf after their own gate. The owner
 * without a session (migrations, seed) is trusted. Anonymous callers hold no grant on any table:
 * PostgreSQL refuses them (42501) before any trigger, as before.
 *
 * Commands nobody may use through the API (write_mode read_only / insert_only / update_only, or no
 * permission at all) have no grant: PostgreSQL refuses them first (42501, mapped to 403 by the
 * front), so no trigger is installed for them. The policies stay: this check adds a clear answer,
 * it does not replace them.
 */
create or replace function app_hidden.tg__forbidden_write() returns trigger
language plpgsql stable as $$
declare
  v_entity text := tg_argv[0];
  v_command text := tg_argv[1];
  v_permissions text[] := tg_argv[2]::text[];
begin
  if current_user <> 'hms_staff' or app_hidden.is_trusted_writer() then
    return null;
  end if;
  if not app_hidden.has_any_permission(v_permissions) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('You may not %s %s rows: this needs %s.', v_command,
             case when v_entity ~ '^[aeiou]' then 'an ' else 'a ' end || v_entity,
             case when cardinality(v_permissions) = 1 then 'the permission ' || v_permissions[1]
                  else 'one of the permissions ' || array_to_string(v_permissions, ', ') end),
      jsonb_build_object('entity', v_entity, 'command', v_command, 'permissions', to_jsonb(v_permissions)));
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg__forbidden_write() is 'Statement trigger _001_forbidden_<command> installed by register_table: refuses (403 HMS_FORBIDDEN) a client write of a member of staff who holds none of the permissions the command needs (arguments: entity, command, permissions). Workflow RPCs and the owner without a session pass.';
revoke execute on function app_hidden.tg__forbidden_write() from public;
grant execute on function app_hidden.tg__forbidden_write() to hms_staff;

CREATE OR REPLACE FUNCTION app_hidden.register_table(p_table regclass, entity text, read_permissions text[] DEFAULT NULL::text[], write_permissions text[] DEFAULT '{}'::text[], delete_permissions text[] DEFAULT '{}'::text[], write_mode text DEFAULT 'read_write'::text, protected_columns text[] DEFAULT '{}'::text[], immutable_columns text[] DEFAULT '{}'::text[], audited boolean DEFAULT true, append_only boolean DEFAULT false, policies text DEFAULT 'generated'::text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table and c.relnamespace = 'app_public'::regnamespace);
  v_scoped boolean;
  v_soft boolean;
  v_number app_hidden.document_types;
begin
  if v_name is null then
    raise exception 'register_table: % is not a table of app_public', p_table;
  end if;
  v_scoped := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'hospital_id' and a.attnotnull and not a.attisdropped);
  v_soft := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  if p_table = 'app_public.audit_logs'::regclass and register_table.audited then
    raise exception 'register_table: app_public.audit_logs cannot audit itself (audited => false)';
  end if;
  if register_table.policies = 'generated' and not v_scoped then
    raise exception 'register_table: % has no hospital_id: its policies are hand-written (policies => ''hand_written'')', p_table;
  end if;

  perform app_hidden.apply_table_conventions(p_table);

  if register_table.policies = 'generated' then
    insert into app_hidden.table_access as a
      (table_name, read_permissions, write_permissions, delete_permissions, write_mode, protected_columns, immutable_columns)
    values (v_name, register_table.read_permissions, register_table.write_permissions, register_table.delete_permissions,
            register_table.write_mode, register_table.protected_columns, register_table.immutable_columns)
    on conflict (table_name) do update
       set read_permissions = excluded.read_permissions, write_permissions = excluded.write_permissions,
           delete_permissions = excluded.delete_permissions, write_mode = excluded.write_mode,
           protected_columns = excluded.protected_columns, immutable_columns = excluded.immutable_columns;
  else
    delete from app_hidden.table_access a where a.table_name = v_name;
  end if;

  -- Triggers, in firing order (BEFORE triggers fire by name).
  perform app_hidden.set_trigger(p_table, '_000_append_only', register_table.append_only,
    'before update or delete on %TABLE% for each row execute function app_hidden.tg__append_only()');
  perform app_hidden.set_trigger(p_table, '_000_append_only_truncate', register_table.append_only,
    'before truncate on %TABLE% for each statement execute function app_hidden.tg__append_only()');
  select * into v_number from app_hidden.document_types d where d.table_name = v_name;
  perform app_hidden.set_trigger(p_table, '_010_number', v_number.document_type is not null,
    format('before insert on %%TABLE%% for each row execute function app_hidden.tg__assign_number(%L, %L, %L)',
           v_number.column_name, v_number.document_type, coalesce(v_number.scope_column, '')));
  perform app_hidden.set_trigger(p_table, '_050_soft_delete', v_soft,
    'before delete on %TABLE% for each row execute function app_hidden.tg__soft_delete()');
  perform app_hidden.set_trigger(p_table, '_100_stamp',
    exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'updated_by' and not a.attisdropped),
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__stamp()');
  perform app_hidden.set_trigger(p_table, '_110_soft_delete', v_soft,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__soft_delete_stamp()');
  perform app_hidden.set_trigger(p_table, '_150_status_machine',
    exists (select 1 from app_hidden.status_transitions s where s.table_name = v_name),
    'before insert or update of status on %TABLE% for each row execute function app_hidden.tg__status_machine()');
  perform app_hidden.set_trigger(p_table, '_990_friendly_constraints', true,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__friendly_constraints()');
  -- One permission check per statement (0100-forbidden-writes.sql): a member of staff without
  -- the permission a command needs is refused with 403 HMS_FORBIDDEN before any row is touched.
  perform app_hidden.set_trigger(p_table, '_001_forbidden_insert',
    register_table.write_mode in ('read_write', 'insert_only') and register_table.write_permissions <> '{}',
    format('before insert on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'insert', register_table.write_permissions));
  perform app_hidden.set_trigger(p_table, '_001_forbidden_update',
    register_table.write_mode in ('read_write', 'update_only') and register_table.write_permissions <> '{}',
    format('before update on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'update', register_table.write_permissions));
  perform app_hidden.set_trigger(p_table, '_001_forbidden_delete', register_table.delete_permissions <> '{}',
    format('before delete on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'delete', register_table.delete_permissions));
  perform app_hidden.set_trigger(p_table, '_900_audit', register_table.audited,
    'after insert or update or delete on %TABLE% for each row execute function app_hidden.tg__audit()');

  execute format('alter table %s enable row level security, force row level security', p_table);
  if register_table.policies = 'generated' then
    perform app_hidden.apply_access_policies(p_table);
  end if;

  insert into app_hidden.table_registry as r
    (table_name, entity, hospital_scoped, soft_delete, audited, append_only, policies, write_permissions)
  values (v_name, register_table.entity, v_scoped, v_soft, register_table.audited, register_table.append_only, register_table.policies,
          register_table.write_permissions)
  on conflict (table_name) do update
     set entity = excluded.entity, hospital_scoped = excluded.hospital_scoped, soft_delete = excluded.soft_delete,
         audited = excluded.audited, append_only = excluded.append_only, policies = excluded.policies,
         write_permissions = excluded.write_permissions;
  perform app_hidden.create_constraint_probe(p_table);
end;
$function$;
comment on function app_hidden.register_table(regclass, text, text[], text[], text[], text, text[], text[], boolean, boolean, text) is 'Registers an app_public table: conventions, number, stamps, soft delete, status machine, friendly constraint errors, audit, RLS, the statement-level forbidden-write check (403 HMS_FORBIDDEN per command, from write_permissions / delete_permissions / write_mode, for hand-written policies too) and (for hospital-scoped tables) the generated tenant/permission policies and column-listed grants. Idempotent. See 0033-register-table.sql and 0100-forbidden-writes.sql.';

/*
 * Registering a table again with the arguments it was registered with: a later section that
 * changes what registration derives from (the status machine's stamps, protected columns, the
 * checks register_table installs) calls this so the table's grants and triggers follow.
 */
create or replace function app_hidden.reregister_table(p_table regclass) returns void
  language plpgsql
as $$
declare
  r record;
begin
  select g.table_name, g.entity, g.audited, g.append_only, g.policies,
         a.read_permissions, a.write_permissions, a.delete_permissions, a.write_mode, a.protected_columns, a.immutable_columns
    into r
    from app_hidden.table_registry g left join app_hidden.table_access a using (table_name)
   where g.table_name = (select c.relname::text from pg_catalog.pg_class c where c.oid = p_table);
  if not found then
    raise exception 'reregister_table: % was never registered', p_table;
  end if;
  if r.policies <> 'generated' then
    raise exception 'reregister_table: % has hand-written policies: call register_table with its arguments', p_table;
  end if;
  perform app_hidden.register_table(p_table, r.entity,
    read_permissions => r.read_permissions, write_permissions => r.write_permissions,
    delete_permissions => r.delete_permissions, write_mode => r.write_mode,
    protected_columns => r.protected_columns, immutable_columns => r.immutable_columns,
    audited => r.audited, append_only => r.append_only);
end;
$$;
comment on function app_hidden.reregister_table(regclass) is 'Registers a table again with the arguments recorded in table_registry and table_access (generated policies only), so its grants and triggers follow a change of what registration derives from.';
revoke execute on function app_hidden.reregister_table(regclass) from public;

/* Every table again, so each gets the forbidden-write checks. */
select app_hidden.reregister_table(('app_public.' || g.table_name)::regclass)
  from app_hidden.table_registry g where g.policies = 'generated' order by g.table_name;

/* Chain-level tables with hand-written policies: their permissions, per command, for the check. */
select app_hidden.register_table('app_public.hospitals', 'hospital', policies => 'hand_written',
  write_permissions => '{hospitals.manage}', delete_permissions => '{hospitals.manage}');
select app_hidden.register_table('app_public.users', 'user', policies => 'hand_written',
  write_permissions => '{users.manage}', delete_permissions => '{users.manage}');
select app_hidden.register_table('app_public.roles', 'role', policies => 'hand_written',
  write_permissions => '{roles.manage}', delete_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.role_permissions', 'role permission', policies => 'hand_written',
  write_permissions => '{roles.manage}', delete_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.user_roles', 'role assignment', policies => 'hand_written',
  write_permissions => '{users.manage}', delete_permissions => '{users.manage}');

--! split: 0110-row-permissions.sql
--! split: 0110-row-permissions.sql
/*
 * Rows that mean different things need different permissions.
 *
 * An id card is a patient's health or insurance card (reception: patients.write) or a staff badge
 * (administration: users.manage). The table-level policy admits either permission; this row
 * trigger then asks for the permission the row's holder_type implies, on the row as it was (update,
 * delete) and as it becomes (insert, update), so a receptionist can neither issue, edit, revoke
 * nor turn a card into a staff badge. Workflow RPCs and the owner pass (is_trusted_writer).
 */
create or replace function app_hidden.tg_id_cards__holder_permission() returns trigger
language plpgsql stable as $$
declare
  v_row jsonb;
  v_needed text;
begin
  if current_user <> 'hms_staff' or app_hidden.is_trusted_writer() then
    return case when tg_op = 'DELETE' then old else new end;
  end if;
  foreach v_row in array case tg_op when 'INSERT' then array[to_jsonb(new)]
                                    when 'DELETE' then array[to_jsonb(old)]
                                    else array[to_jsonb(old), to_jsonb(new)] end loop
    v_needed := case v_row ->> 'holder_type' when 'staff' then 'users.manage' else 'patients.write' end;
    if not app_hidden.has_permission(v_needed) then
      perform app_hidden.raise_error('HMS_FORBIDDEN',
        format('You may not %s a %s card: this needs the permission %s.', lower(tg_op),
               case when v_row ->> 'holder_type' = 'staff' then 'staff' else 'patient' end, v_needed),
        jsonb_build_object('entity', 'id card', 'holder_type', v_row ->> 'holder_type', 'permissions', jsonb_build_array(v_needed)));
    end if;
  end loop;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;
comment on function app_hidden.tg_id_cards__holder_permission() is 'Row trigger _020_holder_permission of id_cards: staff badges need users.manage, patient cards patients.write (403 HMS_FORBIDDEN), on insert, update (old and new row) and delete.';
revoke execute on function app_hidden.tg_id_cards__holder_permission() from public;
grant execute on function app_hidden.tg_id_cards__holder_permission() to hms_staff;

drop trigger if exists _020_holder_permission on app_public.id_cards;
create trigger _020_holder_permission before insert or update or delete on app_public.id_cards
  for each row execute function app_hidden.tg_id_cards__holder_permission();

select app_hidden.register_table('app_public.id_cards', 'id card',
  read_permissions => '{patients.read,users.read}', write_permissions => '{patients.write,users.manage}',
  delete_permissions => '{patients.write,users.manage}',
  protected_columns => '{print_count,last_printed_at}');

/*
 * Configuration changes are audited: numbering formats (prefix, pattern, padding,
 * reset) configure the hospital like settings and taxes. The counters move on every number issued;
 * those updates are audited too (one row per number: the price of a trail that misses nothing).
 * Deliberately unaudited, and tested so: audit_logs (the trail itself), refresh_tokens (token
 * hashes, churn on every refresh), notification_queue (delivery bookkeeping of audited events).
 */
select app_hidden.register_table('app_public.id_sequences', 'id sequence',
  write_permissions => '{settings.manage}', write_mode => 'update_only',
  protected_columns => '{document_type,scope,current_period,next_value,last_issued_at}', audited => true);

--! split: 0200-identity-privilege.sql
/*
 * Privilege inside a hospital, for accounts and access (first part).
 * - Writing RPCs answer only POST: PostgREST runs GET/HEAD in a read-only transaction, where the
 *   first write fails and its error text told a caller whether a password was right (an oracle that
 *   also skipped the lockout and the audit). The pre-request refuses a non-POST call of every
 *   volatile app_public function before the function runs, with one answer for all.
 * - A token must name the audience login mints ('hms'); PostgREST checks aud only when present.
 * - Permissions are hospital-level or chain-level (permissions.scope), the basis for keeping
 *   chain-level permissions out of hospital roles.
 */

alter table app_hidden.error_codes drop constraint error_codes_http_status_check,
  add constraint error_codes_http_status_check check (http_status in (400, 401, 403, 404, 405, 409, 422, 429));

select app_hidden.register_error_codes('identity_privilege', $json$[
  {"code": "HMS_METHOD_NOT_ALLOWED", "http_status": 405, "meaning": "An RPC that writes was called with a method other than POST (GET and HEAD run read-only); it did nothing. Call it with POST."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * The pre-request: method, audience, live session. It runs before every request's query, in the
 * same transaction, so a refused call never reaches the function.
 */
create or replace function app_hidden.check_request() returns void
language plpgsql stable as $$
declare
  v_method text := current_setting('request.method', true);
  v_rpc text := substring(current_setting('request.path', true) from '^/rpc/([^/]+)/?$');
  v_role text := app_hidden.jwt_claim('role');
begin
  -- A writing RPC (volatile) answers POST only: under GET/HEAD it would run read-only and its
  -- first write would fail with an error that depends on what it did so far.
  if v_rpc is not null and v_method is distinct from 'POST'
     and exists (select 1 from pg_catalog.pg_proc p
                  where p.pronamespace = 'app_public'::regnamespace and p.proname = v_rpc
                    and p.provolatile = 'v') then
    perform app_hidden.raise_error('HMS_METHOD_NOT_ALLOWED',
      format('%s changes data and must be called with POST.', v_rpc),
      jsonb_build_object('method', v_method), 'Send the same parameters as a JSON body with POST.');
  end if;
  -- PostgREST sets a role claim for anonymous requests too: only a token for another role
  -- (a signed-in user) must carry HMS's audience and name a live session.
  if v_role is distinct from 'hms_anonymous' and v_role is not null
     and (app_hidden.jwt_claim('aud') is distinct from 'hms' or app_hidden.current_user_id() is null) then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
end;
$$;
comment on function app_hidden.check_request() is 'PostgREST db-pre-request: refuses (405) a non-POST call of a writing (volatile) RPC before it runs, and (401) a signed token without the aud "hms" or whose session is no longer live.';

create or replace function app_hidden.current_user_id() returns uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_user_id uuid;
begin
  if v_claims is null or v_claims ->> 'aud' is distinct from 'hms' then
    return null;
  end if;
  select s.user_id into v_user_id
    from app_private.sessions s
    join app_public.users u on u.id = s.user_id
   where s.id = app_hidden.claim_uuid(v_claims, 'sid')
     and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
     and s.revoked_at is null and s.expires_at > now()
     and u.is_active and not u.is_deleted;
  return v_user_id;
end;
$$;
comment on function app_hidden.current_user_id() is 'The acting user, resolved through the live session of the JWT (null when the token lacks the aud "hms", the session is revoked or expired, or the user deactivated).';

/* ---------------------------------------------------------------------------------------------
 * Permission scope. hospitals.manage (and any later permission about the chain) is chain-level:
 * it is held only through the chain-scoped super admin role, never through a hospital role.
 */
alter table app_public.permissions add column scope text not null default 'hospital',
  add constraint permissions_scope_check check (scope in ('hospital', 'chain'));
comment on column app_public.permissions.scope is 'hospital: may enter a hospital role; chain: about the whole chain (e.g. hospitals.manage), held only by the super admin role.';
update app_public.permissions set scope = 'chain' where code in ('hospitals.manage');
select app_hidden.register_table('app_public.permissions', 'permission', policies => 'hand_written');

--! split: 0300-approvals-and-stamps.sql
--! split: 0300-approvals-and-stamps.sql
/*
 * Approvals, workflow-only states and stamps: one rule for each, in the status machine.
 *
 * 1. Every state that records a decision (approved, rejected, issued, void) is reached only
 *    through its workflow RPC: the step carries `via`, so a plain INSERT or PATCH meets 409
 *    HMS_WORKFLOW_REQUIRED (tg__status_machine). A golden list in tests/db/security/approvals
 *    pins the steps a PATCH may still take, so a new plain step is a visible decision.
 * 2. Four eyes is declared on the step, not coded per RPC: `distinct_from` names the columns
 *    holding the users who may not take it (the requester, the one who raised or counted it).
 *    The status machine compares them with the session's user, inside workflows too, and
 *    refuses with 409 HMS_APPROVAL_BY_OTHER_USER. Those columns are stamps or bookkeeping
 *    (created_by) set from the session, never from the request, so the comparison is between
 *    session users.
 * 3. A completed financial record changes only through the document that reverses it: a
 *    completed payment by a refund, an approved refund by processing, an issued invoice by a
 *    credit note or void_invoice, an issued credit note by void_credit_note (document locks).
 * 4. Stamps that were still client-writable are closed: who uploaded a document, when a card was
 *    issued or a patient checked in, when a policy was verified.
 */

/* ---- 2. Four eyes on the step ----------------------------------------------------------- */
alter table app_hidden.status_transitions add column if not exists distinct_from text[];
comment on column app_hidden.status_transitions.distinct_from is
  'Four eyes: columns naming users (the requester, the creator, the counter) who may not take this step; the acting user must differ from each (409 HMS_APPROVAL_BY_OTHER_USER, inside workflows too).';

create or replace function app_hidden.declare_status_machine(p_table regclass, p_steps jsonb) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_column text;
begin
  delete from app_hidden.status_transitions t where t.table_name = v_name;
  insert into app_hidden.status_transitions (table_name, from_status, to_status, via, permission, stamp_at, stamp_by, reason_column, distinct_from)
  select v_name, s."from", s."to", s.via, s.permission, s.stamp_at, s.stamp_by, s.reason, s.distinct_from
    from jsonb_to_recordset(p_steps) as s("from" text, "to" text, via text, permission text, stamp_at text, stamp_by text, reason text, distinct_from text[]);
  -- Every column named must exist.
  for v_column in
    select distinct c from app_hidden.status_transitions t
     cross join lateral unnest(array[t.stamp_at, t.stamp_by, t.reason_column] || coalesce(t.distinct_from, '{}')) c
     where t.table_name = v_name and c is not null
  loop
    if not exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = v_column and not a.attisdropped) then
      raise exception 'status machine of %: no column %', p_table, v_column;
    end if;
  end loop;
end;
$$;
comment on function app_hidden.declare_status_machine(regclass, jsonb) is
  E'Declares the legal status steps of a table (replacing its previous ones): [{"from", "to", "via", "permission", "stamp_at", "stamp_by", "reason", "distinct_from": [columns]}]; register_table installs the trigger that enforces them.';

/*
 * BEFORE INSERT OR UPDATE OF status (_150_status_machine): the one enforcement of every status
 * machine. For writes with a session (client writes and workflow RPCs):
 *   - the step must be declared, else 409 HMS_ILLEGAL_TRANSITION (a new row by a client must start
 *     in a declared initial status; workflow RPCs may create rows in any declared status);
 *   - a step with `via` is taken only inside a workflow RPC, else 409 HMS_WORKFLOW_REQUIRED;
 *   - a step with a permission needs it, else 403 HMS_FORBIDDEN;
 *   - a step with distinct_from is not taken by the user any of those columns names, else 409
 *     HMS_APPROVAL_BY_OTHER_USER (workflows included: four eyes binds the RPC as much as a PATCH);
 *   - a step with a reason column needs a reason, else 422 HMS_REASON_REQUIRED;
 *   - stamp_at / stamp_by are set from the business clock and the session, unconditionally.
 * The owner without a session (demo data, migrations, maintenance) is trusted with everything but
 * an undeclared step of an existing row: it may insert rows in any status and take workflow-only
 * steps, but a completed appointment is not reopened by anyone (DESIGN.md §8, legal state changes).
 */
create or replace function app_hidden.tg__status_machine() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_from text;
  v_step app_hidden.status_transitions;
  v_patch jsonb := '{}';
  v_column text;
begin
  if TG_OP = 'INSERT' and (v_user is null or not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return NEW;  -- the owner may insert in any status; a writer the policies refuse meets 42501
  end if;
  if TG_OP = 'UPDATE' then
    if NEW.status is not distinct from OLD.status then
      return NEW;
    end if;
    v_from := OLD.status;
  end if;
  select * into v_step from app_hidden.status_transitions t
   where t.table_name = TG_TABLE_NAME and t.from_status is not distinct from v_from and t.to_status = NEW.status;
  if not found then
    if TG_OP = 'INSERT' and app_hidden.in_workflow()
       and exists (select 1 from app_hidden.status_transitions t where t.table_name = TG_TABLE_NAME and t.to_status = NEW.status) then
      return NEW;  -- a workflow records a row in a later status (e.g. a completed payment)
    end if;
    perform app_hidden.raise_illegal_transition(TG_RELID, v_from, NEW.status);
  end if;
  if v_user is null then
    return NEW;
  end if;
  if v_step.via is not null and not app_hidden.in_workflow() then
    perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
      format('%s goes to %s only through %s.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID), true), NEW.status, v_step.via),
      jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status, 'use', v_step.via));
  end if;
  if v_step.permission is not null and not app_hidden.has_permission(v_step.permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('Moving %s to %s needs the %s permission.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID)), NEW.status, v_step.permission),
      jsonb_build_object('permission', v_step.permission));
  end if;
  if TG_OP = 'UPDATE' then
    foreach v_column in array coalesce(v_step.distinct_from, '{}') loop
      if (to_jsonb(OLD) ->> v_column)::uuid = v_user then
        perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
          format('You %s this %s yourself: another member of staff must move it to %s.',
                 case v_column when 'created_by' then 'created' when 'requested_by' then 'requested'
                               when 'received_by' then 'received' when 'counted_by' then 'counted'
                               else regexp_replace(v_column, '_by$', '') end,
                 app_hidden.entity_of(TG_RELID), NEW.status),
          jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status,
                             'column', v_column, 'user_id', v_user));
      end if;
    end loop;
  end if;
  if v_step.reason_column is not null and nullif(trim(to_jsonb(NEW) ->> v_step.reason_column), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED',
      format('Say why the %s goes to %s (%s).', app_hidden.entity_of(TG_RELID), NEW.status, v_step.reason_column),
      jsonb_build_object('field', v_step.reason_column));
  end if;
  if v_step.stamp_at is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_at, app_hidden.now());
  end if;
  if v_step.stamp_by is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_by, v_user);
  end if;
  if v_patch <> '{}' then
    NEW := jsonb_populate_record(NEW, v_patch);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__status_machine() is
  'BEFORE INSERT/UPDATE OF status (_150_status_machine): legal steps only (HMS_ILLEGAL_TRANSITION), workflow-only steps (HMS_WORKFLOW_REQUIRED), step permissions (HMS_FORBIDDEN), four eyes (HMS_APPROVAL_BY_OTHER_USER), reasons (HMS_REASON_REQUIRED); stamps who and when from the session.';

/* ---- 1. Decisions through their RPCs; four eyes declared -------------------------------- */
select app_hidden.declare_status_machine('app_public.invoices', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "issued", "via": "issue_invoice", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "via": "void_invoice", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "via": "void_invoice", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "partially_paid", "via": "record_payment"},
  {"from": "issued", "to": "paid", "via": "record_payment"},
  {"from": "partially_paid", "to": "paid", "via": "record_payment"},
  {"from": "paid", "to": "partially_paid", "via": "process_refund"},
  {"from": "partially_paid", "to": "refunded", "via": "process_refund"},
  {"from": "paid", "to": "refunded", "via": "process_refund"}
]$json$);
-- A completed payment is reversed by a refund, never cancelled.
select app_hidden.declare_status_machine('app_public.payments', $json$[
  {"from": null, "to": "pending", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "record_payment", "stamp_by": "received_by"},
  {"from": "pending", "to": "failed"},
  {"from": "pending", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);
-- Four eyes on refunds depends on the amount (hospital_settings.refund_approval_threshold): tg_refunds__four_eyes.
select app_hidden.declare_status_machine('app_public.refunds', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "approve_refund", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_refund", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"},
  {"from": "approved", "to": "processed", "via": "process_refund", "stamp_at": "processed_at", "stamp_by": "processed_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.credit_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "issued", "via": "issue_credit_note", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "via": "void_credit_note", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "via": "void_credit_note", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.doctor_leaves', $json$[
  {"from": null, "to": "requested"},
  {"from": "requested", "to": "approved", "via": "approve_doctor_leave", "distinct_from": ["created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_doctor_leave", "reason": "rejection_reason"},
  {"from": "requested", "to": "cancelled", "stamp_at": "cancelled_at"},
  {"from": "approved", "to": "cancelled", "stamp_at": "cancelled_at"}
]$json$);
select app_hidden.declare_status_machine('app_public.pharmacy_returns', $json$[
  {"from": null, "to": "requested", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "return_dispensed_items", "stamp_at": "completed_at", "stamp_by": "received_by"},
  {"from": "requested", "to": "approved", "via": "approve_pharmacy_return", "distinct_from": ["received_by", "created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_pharmacy_return", "reason": "rejection_reason"},
  {"from": "approved", "to": "rejected", "via": "reject_pharmacy_return", "reason": "rejection_reason"}
]$json$);
select app_hidden.declare_status_machine('app_public.purchase_orders', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "approved", "via": "approve_purchase_order", "permission": "inventory.approve", "distinct_from": ["created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "approved", "to": "sent", "via": "send_purchase_order", "stamp_at": "sent_at"},
  {"from": "approved", "to": "partially_received", "via": "receive_goods"},
  {"from": "approved", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "sent", "to": "partially_received", "via": "receive_goods"},
  {"from": "sent", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "partially_received", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "draft", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "approved", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sent", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.stock_adjustments', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "pending_approval", "via": "request_stock_adjustment", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "pending_approval", "to": "approved", "via": "approve_stock_adjustment", "permission": "inventory.approve", "distinct_from": ["requested_by", "created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "pending_approval", "to": "rejected", "via": "reject_stock_adjustment", "permission": "inventory.approve", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.cycle_counts', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "counting", "via": "start_cycle_count", "stamp_at": "started_at"},
  {"from": "counting", "to": "counted", "via": "complete_cycle_count", "stamp_at": "completed_at", "stamp_by": "counted_by"},
  {"from": "counted", "to": "approved", "via": "approve_cycle_count", "permission": "inventory.approve", "distinct_from": ["created_by", "counted_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"}
]$json$);
-- Cards: revocation is stamped from the session and needs a reason.
select app_hidden.declare_status_machine('app_public.id_cards', $json$[
  {"from": null, "to": "active"},
  {"from": "active", "to": "lost"},
  {"from": "active", "to": "replaced"},
  {"from": "lost", "to": "replaced"},
  {"from": "active", "to": "expired"},
  {"from": "active", "to": "revoked", "reason": "revocation_reason", "stamp_at": "revoked_at", "stamp_by": "revoked_by"},
  {"from": "lost", "to": "revoked", "reason": "revocation_reason", "stamp_at": "revoked_at", "stamp_by": "revoked_by"}
]$json$);
-- The queue board: called and in consultation are stamped; the appointment's own steps move it too.
select app_hidden.declare_status_machine('app_public.appointment_queue', $json$[
  {"from": null, "to": "waiting"},
  {"from": "waiting", "to": "called", "stamp_at": "called_at"},
  {"from": "skipped", "to": "called", "stamp_at": "called_at"},
  {"from": "called", "to": "waiting"},
  {"from": "skipped", "to": "waiting"},
  {"from": "waiting", "to": "skipped"},
  {"from": "called", "to": "skipped"},
  {"from": "waiting", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "called", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "skipped", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "waiting", "to": "completed", "stamp_at": "completed_at"},
  {"from": "called", "to": "completed", "stamp_at": "completed_at"},
  {"from": "skipped", "to": "completed", "stamp_at": "completed_at"},
  {"from": "in_consultation", "to": "completed", "stamp_at": "completed_at"},
  {"from": "waiting", "to": "cancelled"},
  {"from": "called", "to": "cancelled"},
  {"from": "skipped", "to": "cancelled"},
  {"from": "in_consultation", "to": "cancelled"},
  {"from": "waiting", "to": "no_show"},
  {"from": "called", "to": "no_show"},
  {"from": "skipped", "to": "no_show"}
]$json$);

/* The approval RPCs whose four-eyes check the status machine now makes. */
create or replace function app_public.approve_purchase_order(po_id uuid)
returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'approved');
  update app_public.purchase_orders po set status = 'approved' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;

create or replace function app_public.approve_stock_adjustment(adjustment_id uuid)
returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, approve_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'approved');
  -- The status first: its four-eyes check refuses before any stock moves.
  update app_public.stock_adjustments a set status = 'approved' where a.id = v_adj.id returning * into v_adj;
  insert into app_public.stock_movements
    (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
     adjustment_id, reason)
  values (v_hospital, case when v_adj.quantity_change > 0 then 'adjustment_increase' else 'adjustment_decrease' end,
          v_adj.item_type, v_adj.medicine_id, v_adj.batch_id, v_adj.optical_product_id, v_adj.quantity_change, 0, v_adj.unit_cost,
          v_adj.id, format('Stock adjustment %s (%s).', v_adj.adjustment_number, v_adj.reason));
  return v_adj;
end;
$$;

create or replace function app_public.approve_cycle_count(cycle_count_id uuid)
returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, approve_cycle_count.cycle_count_id);
  v_item app_public.cycle_count_items;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'approved');
  -- The status first: its four-eyes check refuses before any stock moves.
  update app_public.cycle_counts c set status = 'approved' where c.id = v_count.id;
  for v_item in
    select * from app_public.cycle_count_items i
     where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.variance_quantity <> 0
     order by i.created_at, i.id
  loop
    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
       cycle_count_item_id, reason)
    values (v_hospital, 'cycle_count_variance', v_item.item_type, v_item.medicine_id, v_item.batch_id, v_item.optical_product_id,
            v_item.variance_quantity, 0, v_item.unit_cost, v_item.id,
            format('Cycle count %s variance%s.', v_count.count_number, coalesce(': ' || v_item.reason, '')));
  end loop;
  select * into v_count from app_public.cycle_counts c where c.id = v_count.id;
  return v_count;
end;
$$;

/* New workflow RPCs for the decisions that were plain PATCHes. */
create or replace function app_public.void_credit_note(credit_note_id uuid, reason text)
returns app_public.credit_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.void');
  v_row app_public.credit_notes := app_hidden.lock_or_404(null::app_public.credit_notes, void_credit_note.credit_note_id);
begin
  perform app_hidden.require_transition('app_public.credit_notes', v_row.status, 'void');
  update app_public.credit_notes c set status = 'void', void_reason = nullif(trim(void_credit_note.reason), '')
   where c.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.void_credit_note(uuid, text) is
  'Voids a draft or issued credit note with a reason (voided_at/by stamped; an issued one no longer reduces its invoice). Needs billing.void. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.void_credit_note(uuid, text) from public;
grant execute on function app_public.void_credit_note(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.approve_doctor_leave(leave_id uuid)
returns app_public.doctor_leaves
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('doctors.manage');
  v_row app_public.doctor_leaves := app_hidden.lock_or_404(null::app_public.doctor_leaves, approve_doctor_leave.leave_id);
begin
  perform app_hidden.require_transition('app_public.doctor_leaves', v_row.status, 'approved');
  -- A doctor who also manages doctors does not approve their own leave.
  if exists (select 1 from app_public.doctors d
              where d.hospital_id = v_hospital and d.id = v_row.doctor_id and d.user_id = app_hidden.current_user_id()) then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      'This is your own leave: another member of staff must approve it.',
      jsonb_build_object('entity', 'doctor_leave', 'to', 'approved', 'column', 'doctor_id'));
  end if;
  update app_public.doctor_leaves l set status = 'approved' where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_doctor_leave(uuid) is
  'Approves a requested leave of a doctor (approved_at/by stamped); not by the member of staff who recorded it nor by the doctor on leave. Needs doctors.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
revoke execute on function app_public.approve_doctor_leave(uuid) from public;
grant execute on function app_public.approve_doctor_leave(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_doctor_leave(leave_id uuid, reason text)
returns app_public.doctor_leaves
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('doctors.manage');
  v_row app_public.doctor_leaves := app_hidden.lock_or_404(null::app_public.doctor_leaves, reject_doctor_leave.leave_id);
begin
  perform app_hidden.require_transition('app_public.doctor_leaves', v_row.status, 'rejected');
  update app_public.doctor_leaves l set status = 'rejected', rejection_reason = nullif(trim(reject_doctor_leave.reason), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_doctor_leave(uuid, text) is
  'Rejects a requested leave of a doctor with a reason. Needs doctors.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.reject_doctor_leave(uuid, text) from public;
grant execute on function app_public.reject_doctor_leave(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.approve_pharmacy_return(return_id uuid)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_row app_public.pharmacy_returns := app_hidden.lock_or_404(null::app_public.pharmacy_returns, approve_pharmacy_return.return_id);
begin
  perform app_hidden.require_transition('app_public.pharmacy_returns', v_row.status, 'approved');
  update app_public.pharmacy_returns r set status = 'approved' where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_pharmacy_return(uuid) is
  'Approves a requested pharmacy return (approved_at/by stamped); not by the member of staff who received it. Needs pharmacy.return. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
revoke execute on function app_public.approve_pharmacy_return(uuid) from public;
grant execute on function app_public.approve_pharmacy_return(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_pharmacy_return(return_id uuid, reason text)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_row app_public.pharmacy_returns := app_hidden.lock_or_404(null::app_public.pharmacy_returns, reject_pharmacy_return.return_id);
begin
  perform app_hidden.require_transition('app_public.pharmacy_returns', v_row.status, 'rejected');
  update app_public.pharmacy_returns r set status = 'rejected', rejection_reason = nullif(trim(reject_pharmacy_return.reason), '')
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_pharmacy_return(uuid, text) is
  'Rejects a requested or approved pharmacy return with a reason. Needs pharmacy.return. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.reject_pharmacy_return(uuid, text) from public;
grant execute on function app_public.reject_pharmacy_return(uuid, text) to :DATABASE_STAFF;

/* ---- 3. Completed financial records change only through their reversing documents -------- */
-- Once issued, what is owed and to whom is frozen (corrections are credit notes); only the due
-- date and internal notes move. status stays listed so a PATCH of it meets the status machine's
-- clearer answer (HMS_WORKFLOW_REQUIRED), not the lock.
select app_hidden.lock_document('app_public.invoices', '{draft}', still_editable => '{status,due_date,notes}');
select app_hidden.lock_document('app_public.payments', '{pending}', still_editable => '{status}');
select app_hidden.lock_document('app_public.refunds', '{requested}', still_editable => '{status}');
select app_hidden.lock_document('app_public.credit_notes', '{draft}', still_editable => '{status}');
-- A return's lines are fixed once someone decided on it.
select app_hidden.lock_document('app_public.pharmacy_returns', '{requested}', still_editable => '{status,notes}');
select app_hidden.lock_document('app_public.pharmacy_return_items', '{requested}',
  document => 'app_public.pharmacy_returns', document_column => 'return_id');

/* ---- 4. Stamps a client could still write ---------------------------------------------- */
alter table app_public.patient_documents alter column uploaded_by set default app_hidden.current_user_id();
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{uploaded_by}'))
 where table_name = 'patient_documents';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{issued_at}'))
 where table_name = 'id_cards';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{checked_in_at,call_count}'))
 where table_name = 'appointment_queue';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{verified_at}'))
 where table_name = 'insurance_policies';

-- Who uploaded a document is the session that inserted it.
create or replace function app_hidden.tg_patient_documents__uploaded_by() returns trigger
language plpgsql
volatile
as $$
begin
  if app_hidden.current_user_id() is not null then
    NEW.uploaded_by := app_hidden.current_user_id();
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_patient_documents__uploaded_by() is
  'BEFORE INSERT on patient_documents (_200_uploaded_by): uploaded_by is the session''s user, whatever the request said.';
drop trigger if exists _200_uploaded_by on app_public.patient_documents;
create trigger _200_uploaded_by before insert on app_public.patient_documents
  for each row execute function app_hidden.tg_patient_documents__uploaded_by();

-- Verifying a policy is an act of the session: when and by whom both come from it.
create or replace function app_public.verify_insurance_policy(policy_id uuid)
returns app_public.insurance_policies
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_policies := app_hidden.lock_or_404(null::app_public.insurance_policies, verify_insurance_policy.policy_id);
begin
  update app_public.insurance_policies p set verified_at = app_hidden.now(), verified_by = app_hidden.current_user_id()
   where p.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.verify_insurance_policy(uuid) is
  'Records that the policy was verified with the insurer now, by the caller (verified_at/by). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND.';
revoke execute on function app_public.verify_insurance_policy(uuid) from public;
grant execute on function app_public.verify_insurance_policy(uuid) to :DATABASE_STAFF;
drop trigger if exists _200_verified_by on app_public.insurance_policies;
drop function if exists app_hidden.tg_insurance_policies__verified_by();

/* Grants and triggers follow the new machines and protected columns. */
select app_hidden.reregister_table(t::regclass) from unnest(array[
  'app_public.invoices', 'app_public.payments', 'app_public.refunds', 'app_public.credit_notes',
  'app_public.doctor_leaves', 'app_public.pharmacy_returns', 'app_public.purchase_orders',
  'app_public.stock_adjustments', 'app_public.cycle_counts', 'app_public.id_cards',
  'app_public.appointment_queue', 'app_public.patient_documents', 'app_public.insurance_policies']) t;

--! split: 0400-bounds-document-number.sql
/*
  Request bounds: the document-number check.

  WHY: POST /rpc/check_document_number with a 30,000-character number took 4.8 s and 100,000
  characters more than 20 s — hms_calculate_checksum read the input with substr(text, i, 1),
  which walks the (UTF-8) string from its start on every call, so the loop was quadratic. The
  checksum now reads the cleaned input (letters and digits only, i.e. ASCII) as bytes, one
  get_byte per character: linear. And the RPC refuses a number longer than any HMS document
  number can be (128 characters) with 422 HMS_VALUE_TOO_LONG before any work.
*/

select app_hidden.register_error_codes('bounds', $json$[
  {"code": "HMS_VALUE_TOO_LONG", "http_status": 422, "meaning": "A value is longer than its field or parameter allows (details.parameter or details.column names it, details.max_length gives the maximum)."}
]$json$);

create or replace function app_hidden.hms_calculate_checksum(p_input text) returns text
language plpgsql
immutable parallel safe
as $$
declare
  v_alphabet constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  -- Only 0-9 and A-Z remain: one byte per character, so get_byte reads the i-th one in O(1).
  v_clean bytea := convert_to(regexp_replace(upper(coalesce(p_input, '')), '[^0-9A-Z]', '', 'g'), 'UTF8');
  v_length integer := length(v_clean);
  v_byte integer;
  v_product integer := 36;
  v_sum integer;
begin
  if v_length = 0 then
    perform app_hidden.raise_error('HMS_CHECKSUM_INPUT_INVALID', 'A check character needs at least one letter or digit.');
  end if;
  for i in 0 .. v_length - 1 loop
    v_byte := get_byte(v_clean, i);
    -- the character's value in the alphabet: '0'..'9' are bytes 48..57, 'A'..'Z' 65..90
    v_sum := (v_product + case when v_byte <= 57 then v_byte - 48 else v_byte - 55 end) % 36;
    if v_sum = 0 then
      v_sum := 36;
    end if;
    v_product := (v_sum * 2) % 37;
  end loop;
  return substr(v_alphabet, (37 - v_product) % 36 + 1, 1);
end;
$$;

comment on function app_hidden.hms_calculate_checksum(text) is 'ISO 7064 MOD 37,36 check character (0-9, A-Z) of the letters and digits of the input; linear in the input''s length.';

create or replace function app_public.check_document_number(number text) returns boolean
language plpgsql
immutable
as $$
declare
  c_max_length constant integer := 128;
  v_clean text;
begin
  if length(check_document_number.number) > c_max_length then
    perform app_hidden.raise_error('HMS_VALUE_TOO_LONG',
      format('The parameter number may hold at most %s characters.', c_max_length),
      jsonb_build_object('parameter', 'number', 'max_length', c_max_length));
  end if;
  v_clean := regexp_replace(upper(coalesce(check_document_number.number, '')), '[^0-9A-Z]', '', 'g');
  if length(v_clean) < 2 then
    return false;
  end if;
  return right(v_clean, 1) = app_hidden.hms_calculate_checksum(left(v_clean, length(v_clean) - 1));
end;
$$;

comment on function app_public.check_document_number(text) is 'True when the number''s last character is its valid check character (catches a mistyped MRN, invoice number, …). Does not say whether the document exists. Errors: 422 HMS_VALUE_TOO_LONG when the number is longer than 128 characters.';

--! split: 0500-front-errors.sql
/*
 * The front's half of the error contract (issue 8, item 5 and the error contract; issue 10 §1).
 *
 * Every answer of the API carries a stable HMS_* code. Business errors get theirs from
 * app_hidden.raise_error; what PostgreSQL or PostgREST raise by themselves (a column grant, a
 * bad uuid in a filter, a statement timeout, a singular response with 0 rows, a parse error of
 * the query string …) and what the front itself refuses (a body or answer too large, an embed too
 * deep) is translated by the front — through ONE mapping kept here, next to the registry, not in
 * TypeScript: app_hidden.raw_errors. The HTTP status of the answer is always the registry's.
 *
 * The front reads the mapping at start-up as the anonymous API role (it connects with
 * PostgREST's own authenticator login): the table is in app_hidden, which PostgREST does not
 * serve.
 */

-- Statuses the front answers with that business errors never needed: 406 (singular response),
-- 413 (request body), 500 (an unexpected error, no internals), 503 (PostgREST or the database
-- unavailable), 504 (statement timeout).
alter table app_hidden.error_codes drop constraint error_codes_http_status_check;
alter table app_hidden.error_codes add constraint error_codes_http_status_check
  check (http_status = any (array[400, 401, 403, 404, 405, 406, 409, 413, 422, 429, 500, 503, 504]));

select app_hidden.register_error_codes('front', $json$[
  {"code": "HMS_INVALID_SYNTAX", "http_status": 400, "meaning": "A value in the query string or body is not written the way its type needs — a uuid, a date or time, a number, a boolean (details quotes what PostgreSQL could not read)."},
  {"code": "HMS_BAD_REQUEST", "http_status": 400, "meaning": "The query string or body cannot be read: an unknown column or relationship, a malformed filter, select or order, or a body that is not the JSON expected (details quotes the parser)."},
  {"code": "HMS_NOT_SINGLE_ROW", "http_status": 406, "meaning": "A single object was asked for (Accept: application/vnd.pgrst.object+json) but the request matched none or several rows (details says how many)."},
  {"code": "HMS_BODY_TOO_LARGE", "http_status": 413, "meaning": "The request body is larger than the front accepts (details.limit_bytes, HMS_MAX_BODY_BYTES)."},
  {"code": "HMS_EMBED_TOO_DEEP", "http_status": 400, "meaning": "The select nests embedded resources deeper than allowed (details.depth, details.max_depth, HMS_MAX_EMBED_DEPTH); read the deeper levels with a second request."},
  {"code": "HMS_RESPONSE_TOO_LARGE", "http_status": 400, "meaning": "The answer would be larger than the front sends (details.limit_bytes, HMS_MAX_RESPONSE_BYTES): select fewer columns, filter, or page with limit and offset."},
  {"code": "HMS_STATEMENT_TIMEOUT", "http_status": 504, "meaning": "The request ran longer than the statement timeout of its role (3 s before login, 8 s for staff) and was cancelled; nothing it did was kept."},
  {"code": "HMS_SERVICE_UNAVAILABLE", "http_status": 503, "meaning": "The REST server or the database is not reachable right now; try again in a moment."},
  {"code": "HMS_INTERNAL_ERROR", "http_status": 500, "meaning": "The server failed in a way it did not expect; nothing is revealed about it, details.request_id finds it in the server's log."}
]$json$);

/*
 * One row per raw error the front translates. raw_code is a PostgreSQL SQLSTATE (42501, 22P02 …),
 * a PostgREST code (PGRST116 …) or one of the front's own conditions (source 'front'). A row may
 * be narrowed to the status PostgREST answered with (42501 is 401 before login, 403 after), the
 * narrower row winning. keep_details passes the original message under `details` where it helps
 * the client (which value could not be read) and reveals nothing (never for unique or foreign-key
 * violations: their detail names other rows' values).
 */
create table app_hidden.raw_errors (
  raw_code text not null,
  upstream_status smallint,
  source text not null,
  code text not null references app_hidden.error_codes (code) on update cascade on delete restrict,
  message text not null,
  keep_details boolean not null default false,
  constraint raw_errors_source_check check (source in ('postgresql', 'postgrest', 'front')),
  constraint raw_errors_raw_code_check check (raw_code ~ '^([0-9A-Z]{5}|PGRST[0-9]{3}|[a-z][a-z_]*[a-z])$'),
  constraint raw_errors_message_check check (length(trim(message)) >= 10),
  constraint raw_errors_upstream_status_check check (upstream_status between 400 and 599)
);
create unique index raw_errors_key on app_hidden.raw_errors (raw_code, coalesce(upstream_status, 0));

comment on table app_hidden.raw_errors is 'The one mapping of raw PostgreSQL/PostgREST errors and of the front''s own refusals to registered HMS_* codes with a human message; the front applies it to every answer (db/error_codes.md lists it).';
comment on column app_hidden.raw_errors.raw_code is 'SQLSTATE, PostgREST code (PGRSTnnn) or the front''s condition (body_too_large, embed_too_deep, response_too_large, upstream_unavailable, internal).';
comment on column app_hidden.raw_errors.upstream_status is 'Only when PostgREST answered this status (null: any status); the narrower row wins.';
comment on column app_hidden.raw_errors.source is 'Who raises the raw error: postgresql, postgrest or front.';
comment on column app_hidden.raw_errors.code is 'The registered HMS_* code the client gets; the HTTP status is the registry''s.';
comment on column app_hidden.raw_errors.message is 'The sentence the client gets instead of the raw message.';
comment on column app_hidden.raw_errors.keep_details is 'True: the raw message (and PostgREST''s details) travel under details because they tell the client which value was wrong and nothing else.';

insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('42501', 401,  'postgresql', 'HMS_SESSION_INVALID', 'Log in first: this needs a session.', false),
  ('42501', null, 'postgresql', 'HMS_FORBIDDEN', 'Your roles do not allow this: the table, one of the columns written or the function is not open to you.', true),
  ('23505', null, 'postgresql', 'HMS_DUPLICATE', 'A record with the same unique values already exists.', false),
  ('23514', null, 'postgresql', 'HMS_INVALID_VALUE', 'A value breaks a rule of the schema.', false),
  ('23503', null, 'postgresql', 'HMS_REFERENCE_NOT_FOUND', 'The record refers to something that does not exist, or is still referred to.', false),
  ('23502', null, 'postgresql', 'HMS_REQUIRED', 'A required value is missing.', false),
  ('22P02', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A value is not written the way its type needs.', true),
  ('22007', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A date or time is not written the way PostgreSQL reads it (ISO 8601: 2026-12-31, 2026-12-31T08:30:00Z).', true),
  ('22008', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A date or time is out of range.', true),
  ('22003', null, 'postgresql', 'HMS_INVALID_VALUE', 'A number is out of the range its column holds.', true),
  ('57014', null, 'postgresql', 'HMS_STATEMENT_TIMEOUT', 'The request took longer than its statement timeout and was cancelled.', false),
  ('42703', null, 'postgresql', 'HMS_BAD_REQUEST', 'The request names a column that does not exist.', true),
  ('PGRST100', null, 'postgrest', 'HMS_BAD_REQUEST', 'The query string cannot be parsed (select, filter, order or limit).', true),
  ('PGRST102', null, 'postgrest', 'HMS_BAD_REQUEST', 'The body is not the JSON expected.', true),
  ('PGRST116', null, 'postgrest', 'HMS_NOT_SINGLE_ROW', 'A single object was asked for, but the request did not match exactly one row.', true),
  ('PGRST200', null, 'postgrest', 'HMS_BAD_REQUEST', 'The select embeds a relationship that does not exist.', true),
  ('PGRST204', null, 'postgrest', 'HMS_BAD_REQUEST', 'The body names a column that does not exist or cannot be written.', true),
  ('body_too_large', null, 'front', 'HMS_BODY_TOO_LARGE', 'The request body is too large.', false),
  ('embed_too_deep', null, 'front', 'HMS_EMBED_TOO_DEEP', 'The select nests embedded resources too deep.', false),
  ('response_too_large', null, 'front', 'HMS_RESPONSE_TOO_LARGE', 'The answer would be too large: select fewer columns, filter, or page with limit and offset.', false),
  ('upstream_unavailable', null, 'front', 'HMS_SERVICE_UNAVAILABLE', 'The REST server is not reachable right now; try again in a moment.', false),
  ('internal', null, 'front', 'HMS_INTERNAL_ERROR', 'The server failed unexpectedly; quote the request id when you report it.', false);

grant select on table app_hidden.raw_errors to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

/*
 * The client address. Only the front decides it (the socket's peer, or X-Forwarded-For when that
 * peer is one of HMS_TRUSTED_PROXIES) and sends it in X-HMS-Client-Address, replacing whatever the
 * client sent; PostgREST listens on an internal address the front alone reaches. X-Forwarded-For is
 * no longer read by the database at all.
 */
create or replace function app_private.request_client_address() returns inet
language plpgsql stable as $$
begin
  return nullif(trim(coalesce(nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-hms-client-address', '')), '')::inet;
exception when others then
  return null; -- a malformed header must never block a login
end;
$$;
comment on function app_private.request_client_address() is 'Client address as the front saw it (X-HMS-Client-Address, which the front always overwrites; X-Forwarded-For is believed by the front only from HMS_TRUSTED_PROXIES), or null outside a request.';

create or replace function app_private.write_audit_log(p_action text, p_table_name text DEFAULT NULL::text, p_record_id uuid DEFAULT NULL::uuid, p_hospital_id uuid DEFAULT NULL::uuid, p_old_values jsonb DEFAULT NULL::jsonb, p_new_values jsonb DEFAULT NULL::jsonb, p_changed_columns text[] DEFAULT NULL::text[], p_description text DEFAULT NULL::text, p_user_id uuid DEFAULT NULL::uuid)
 returns void
 language plpgsql
 security definer
 set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  v_headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
begin
  insert into app_public.audit_logs
    (hospital_id, user_id, session_id, action, table_name, record_id, old_values, new_values, changed_columns,
     request_id, client_address, user_agent, api, description)
  values
    (coalesce(p_hospital_id, app_hidden.current_hospital_id()),
     coalesce(p_user_id, app_hidden.current_user_id()),
     app_hidden.current_session_id(),
     p_action, p_table_name, p_record_id, p_old_values, p_new_values, p_changed_columns,
     left(v_headers ->> 'x-request-id', 200), app_private.request_client_address(), left(v_headers ->> 'user-agent', 500),
     case when nullif(current_setting('request.method', true), '') is not null then 'rest' else 'sql' end,
     p_description);
end;
$function$;
comment on function app_private.write_audit_log(text,text,uuid,uuid,jsonb,jsonb,text[],text,uuid) is 'Appends one audit_logs row with the request context (user, session, hospital, request id and client address as the front set them, user agent).';
