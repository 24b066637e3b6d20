/**
 * Paths the repository's text points at stay true: every `migrations/current/…` and
 * `db/schema/…` path named in a tracked file must exist, so a reader sent to the current
 * definition of something finds it. migrations/committed/ is history (never edited) and is not
 * read. Paths are relative to the repository root; a mention that goes on with a placeholder —
 * `<table>`, `*`, `{…}` — is a pattern, not a path.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../db/launcher/config.ts';

const POINTER = /(?<![\w./-])(?:migrations\/current|db\/schema)\/[\w./-]*/g;
const PLACEHOLDER = /^[<*{]/;

interface Mention {
  line: number;
  target: string;
}

function mentions(text: string): Mention[] {
  const found: Mention[] = [];
  text.split('\n').forEach((line, i) => {
    for (const match of line.matchAll(POINTER)) {
      const rest = line.slice(match.index + match[0].length);
      if (PLACEHOLDER.test(rest)) continue;
      // a sentence may end right after a path
      found.push({ line: i + 1, target: match[0].replace(/\.+$/, '') });
    }
  });
  return found;
}

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && !file.startsWith('migrations/committed/') && !file.startsWith('node_modules/'))
  .filter((file) => existsSync(path.join(repoRoot, file)));

const pointing = tracked
  .map((file) => {
    const content = readFileSync(path.join(repoRoot, file));
    return { file, mentions: content.includes(0) ? [] : mentions(content.toString('utf8')) };
  })
  .filter((entry) => entry.mentions.length > 0);

// One test per hand-written file; the generated db/schema/ (every file names its README) is one.
const groups = new Map<string, typeof pointing>();
for (const entry of pointing) {
  const name = entry.file.startsWith('db/schema/') ? 'db/schema/ (generated)' : entry.file;
  groups.set(name, [...(groups.get(name) ?? []), entry]);
}

describe('paths named in the repository', () => {
  it('are found in the files that explain where things live', () => {
    expect([...groups.keys()]).toEqual(expect.arrayContaining(['README.md', 'db/CONVENTIONS.md', 'db/schema/ (generated)']));
  });

  for (const [name, entries] of groups) {
    it(`${name}: every path it names exists`, () => {
      const missing = entries.flatMap(({ file, mentions: list }) =>
        list
          .filter((mention) => !existsSync(path.join(repoRoot, mention.target)))
          .map((mention) => `${file}:${mention.line} names ${mention.target}, which does not exist`),
      );
      expect(missing, missing.join('\n')).toEqual([]);
    });
  }
});
