/**
 * The README's configuration table is the configuration schema (db/launcher/config.ts) rendered;
 * tests/config/docker-compose.test.ts fails when they differ. After changing the schema:
 *
 *   node db/scripts/config-table.ts --write   # rewrites the table in README.md
 *   node db/scripts/config-table.ts           # prints it
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configTable, repoRoot } from '../launcher/config.ts';

export const readmePath = path.join(repoRoot, 'README.md');

/** The first table under "## Configuration": its line range in the README's lines. */
function tableRange(lines: string[]): [number, number] {
  const heading = lines.indexOf('## Configuration');
  if (heading < 0) throw new Error('README.md has no "## Configuration" section.');
  const start = lines.findIndex((line, index) => index > heading && line.startsWith('|'));
  if (start < 0) throw new Error('README.md has no table under "## Configuration".');
  let end = start;
  while (lines[end]?.startsWith('|')) end++;
  return [start, end];
}

/** The configuration table as the README has it. */
export function readmeConfigTable(readme: string): string {
  const lines = readme.split('\n');
  const [start, end] = tableRange(lines);
  return lines.slice(start, end).join('\n');
}

/** The README with its configuration table replaced by the rendered schema. */
export function withConfigTable(readme: string): string {
  const lines = readme.split('\n');
  const [start, end] = tableRange(lines);
  return [...lines.slice(0, start), configTable(), ...lines.slice(end)].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) writeFileSync(readmePath, withConfigTable(readFileSync(readmePath, 'utf8')));
  else console.log(configTable());
}
