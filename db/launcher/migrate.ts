/**
 * Schema migrations through graphile-migrate (committed migrations in migrations/committed/).
 * Role names are placeholders (:DATABASE_STAFF, …) resolved from configuration, as in .gmrc.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
// graphile-migrate's own rule for current/ file names (the regex it validates them with).
import { VALID_FILE_REGEX } from 'graphile-migrate/dist/current.js';
import { migrateEnv, repoRoot, type HmsConfig } from './config.ts';
import { runProcess } from './process.ts';

export const graphileMigrate = path.join(repoRoot, 'node_modules', '.bin', 'graphile-migrate');

/** Runs `graphile-migrate <args>` from the repository root with the stack's environment. */
export async function graphileMigrateCommand(config: HmsConfig, args: string[], databaseUrl?: string): Promise<string> {
  const result = await runProcess({
    name: 'graphile-migrate',
    command: graphileMigrate,
    args,
    cwd: repoRoot,
    env: migrateEnv(config, databaseUrl),
  });
  if (result.code !== 0) throw new Error(`graphile-migrate ${args.join(' ')} failed:\n${result.output}`);
  return result.output;
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
    DATABASE_WORKER: config.roles.worker,
  };
  return sql.replace(/(?<!:):(DATABASE_[A-Z_]+)\b/g, (match, name: string) => values[name] ?? match);
}

/**
 * The SQL files of a `migrations/current/` folder in the order graphile-migrate joins them for
 * `watch` and `commit`: by the number their name starts with, compared as a number
 * (`900-x.sql` before `1000-y.sql`), dotfiles and non-SQL files skipped, and the same errors for a
 * name without a number or two files with one number. Tools that apply the files one by one
 * (db:check-sections) use this order, so they see what a commit would.
 */
export function currentMigrationFiles(dir: string): string[] {
  const byNumber = new Map<number, string>();
  for (const file of readdirSync(dir)) {
    if (file.startsWith('.') || !file.endsWith('.sql')) continue;
    const match = VALID_FILE_REGEX.exec(file);
    const id = match ? parseInt(match[1], 10) : NaN;
    if (!match || !(id >= 1)) {
      throw new Error(`Invalid current migration filename: '${file}'. File must follow the naming 001.sql or 001-message.sql.`);
    }
    const clash = byNumber.get(id);
    if (clash) throw new Error(`Current migration filename clash: '${file}' and '${clash}' have the prefix '${id}'.`);
    byNumber.set(id, file);
  }
  return [...byNumber.keys()].sort((a, b) => a - b).map((id) => byNumber.get(id)!);
}
