/**
 * Schema migrations through graphile-migrate (committed migrations in migrations/committed/).
 * Role names are placeholders (:DATABASE_STAFF, …) resolved from configuration, as in .gmrc.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { migrateEnv, repoRoot, type HmsConfig } from './config.ts';

const run = promisify(execFile);
const graphileMigrate = path.join(repoRoot, 'node_modules', '.bin', 'graphile-migrate');

/** Runs `graphile-migrate <args>` from the repository root with the stack's environment. */
export async function graphileMigrateCommand(config: HmsConfig, args: string[], databaseUrl?: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(graphileMigrate, args, {
      cwd: repoRoot,
      env: migrateEnv(config, databaseUrl),
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`graphile-migrate ${args.join(' ')} failed:\n${e.stderr || e.stdout || e.message}`);
  }
}

/** Applies every committed migration not applied yet. */
export async function migrate(config: HmsConfig, databaseUrl?: string): Promise<void> {
  await graphileMigrateCommand(config, ['migrate'], databaseUrl);
}

/** The same substitution graphile-migrate does for the placeholders declared in .gmrc. */
export function substitutePlaceholders(sql: string, config: HmsConfig): string {
  const values: Record<string, string> = {
    DATABASE_OWNER: config.roles.owner,
    DATABASE_AUTHENTICATOR: config.roles.authenticator,
    DATABASE_ANONYMOUS: config.roles.anonymous,
    DATABASE_STAFF: config.roles.staff,
  };
  return sql.replace(/(?<!:):(DATABASE_[A-Z_]+)\b/g, (match, name: string) => values[name] ?? match);
}
