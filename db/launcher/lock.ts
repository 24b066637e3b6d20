/**
 * One launcher per data folder: a PID file held by a live process. `npm start`, `db:setup` and
 * `db:reset` take it, so a reset cannot pull the database from under a running stack.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type HmsConfig } from './config.ts';
import { isAlive } from './process.ts';

export function acquireLock(config: HmsConfig): () => void {
  const lockFile = path.join(config.dataDir, 'launcher.pid');
  mkdirSync(config.dataDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      // 'wx' creates the file only if it does not exist: two launchers cannot both win.
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (pid && isAlive(pid)) {
        throw new ConfigError(`HMS is already running (launcher pid ${pid}, data in ${config.dataDir}); stop it with Ctrl-C or kill ${pid} first.`);
      }
      rmSync(lockFile, { force: true }); // left by a launcher that died without cleaning up
    }
  }
}
