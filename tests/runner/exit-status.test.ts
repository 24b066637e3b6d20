/**
 * The suite's runner reports failure by its exit status — what CI reads. Each case runs vitest
 * as a child process with this repository's own configuration (vitest.config.ts: the global setup
 * that starts the embedded PostgreSQL and PostgREST, the reporters) on one fixture file, because
 * the global setup is where an exit hook once turned failing runs into exit status 0.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../db/launcher/config.ts';
import { runProcess } from '../../db/launcher/process.ts';

async function runFixture(name: string): Promise<{ code: number | null; output: string }> {
  // The child is a run of its own: none of this worker's vitest variables leak into it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'NODE_OPTIONS'));
  return runProcess({
    name: `vitest ${name}`,
    command: path.join(repoRoot, 'node_modules', '.bin', 'vitest'),
    args: ['run'],
    cwd: repoRoot,
    env: { ...env, HMS_VITEST_FIXTURE: `tests/runner/fixtures/${name}`, CI: 'true', NO_COLOR: '1' },
    timeoutMs: 170_000,
  });
}

describe('npm test exit status', () => {
  it('is non-zero when a test fails and zero when every test passes', async () => {
    // Both runs at once: each starts a whole throwaway stack.
    const [failing, passing] = await Promise.all([runFixture('failing.fixture.ts'), runFixture('passing.fixture.ts')]);
    expect(failing.output).toMatch(/^0 passed, 1 failed$/m);
    expect(failing.code, failing.output).toBe(1);
    expect(passing.output).toMatch(/^1 passed, 0 failed$/m);
    expect(passing.code, passing.output).toBe(0);
  }, 180_000);
});
