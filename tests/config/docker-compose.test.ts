/**
 * There is no Docker engine on our machines, so docker-compose.yml is kept in step with the npm
 * path by construction and checked here: the same services, images, PGRST_* names and values as
 * db/launcher/postgrest.ts, and only variables of the launcher's configuration schema
 * (db/launcher/config.ts), whose rendering is the README's configuration table.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configTable, configVariables, loadConfig, repoRoot } from '../../db/launcher/config.ts';
import { postgrestEnv } from '../../db/launcher/postgrest.ts';
import { readmeConfigTable } from '../../db/scripts/config-table.ts';

const compose = parse(readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const npmEnv = postgrestEnv(loadConfig({ HMS_DATA_DIR: '/tmp/hms-compose-test', HMS_JWT_SECRET: 'x'.repeat(32) }));

describe('docker-compose.yml', () => {
  it('has postgres 16, the one-shot migrate service and PostgREST v12.0.2', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['front', 'migrate', 'postgres', 'postgrest', 'worker']);
    expect(compose.services.worker.command.join(' ')).toContain('worker/src/main.ts');
    expect(compose.services.worker.depends_on.migrate.condition).toBe('service_completed_successfully');
    for (const name of Object.keys(compose.services.worker.environment)) expect(configVariables, name).toContain(name);
    // It sends mail and messages: the delivery settings reach it.
    for (const name of ['HMS_SMTP_URL', 'HMS_PUBLIC_URL', 'HMS_SMS_GATEWAY_URL', 'HMS_WHATSAPP_GATEWAY_URL']) expect(compose.services.worker.environment, name).toHaveProperty(name);
    expect(compose.services.postgres.image).toBe('postgres:16');
    expect(compose.services.postgrest.image).toBe('postgrest/postgrest:v12.0.2');
    expect(compose.services.migrate.command.join(' ')).toContain('npm run db:setup');
    expect(compose.services.migrate.restart).toBe('no');
    expect(compose.services.postgrest.depends_on.migrate.condition).toBe('service_completed_successfully');
  });

  it('publishes only the front; PostgREST stays internal and the front finds it by its container name', () => {
    expect(compose.services.postgrest.ports).toBeUndefined();
    expect(compose.services.front.ports).toEqual(['127.0.0.1:3000:3000']);
    expect(compose.services.front.command.join(' ')).toContain('db/launcher/front-main.ts');
    const port = compose.services.postgrest.environment.PGRST_SERVER_PORT;
    expect(compose.services.front.environment.HMS_POSTGREST_URL).toBe(`http://postgrest:${port}`);
    for (const name of Object.keys(compose.services.front.environment)) expect(configVariables, name).toContain(name);
  });

  it('configures PostgREST with exactly the PGRST_* names npm start uses', () => {
    expect(Object.keys(compose.services.postgrest.environment).sort()).toEqual(Object.keys(npmEnv).sort());
  });

  it('uses the same PostgREST values where they do not depend on the host', () => {
    const env = compose.services.postgrest.environment;
    for (const name of ['PGRST_DB_SCHEMAS', 'PGRST_DB_ANON_ROLE', 'PGRST_DB_EXTRA_SEARCH_PATH', 'PGRST_OPENAPI_MODE', 'PGRST_DB_POOL', 'PGRST_LOG_LEVEL']) {
      expect(String(env[name]), name).toBe(npmEnv[name]);
    }
    expect(new URL(env.PGRST_DB_URI.replace(/\$\{[^}]+\}/g, 'x')).username).toBe('hms_authenticator');
  });

  it('passes the migrate service only variables the launcher understands', () => {
    for (const name of Object.keys(compose.services.migrate.environment)) {
      expect(configVariables, name).toContain(name);
    }
  });
});

describe('README configuration table', () => {
  it('is the configuration schema, rendered (node db/scripts/config-table.ts --write updates it)', () => {
    expect(readmeConfigTable(readme)).toBe(configTable());
  });
});
