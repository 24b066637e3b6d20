import { defineConfig } from 'vitest/config';

/**
 * tests/runner/exit-status.test.ts runs this same configuration — global setup, reporters and
 * all — as a child process on one fixture file named by HMS_VITEST_FIXTURE, to prove that a
 * failing test makes the run exit non-zero. Fixtures are `*.fixture.ts`, so the suite itself
 * never collects them.
 */
const fixture = process.env.HMS_VITEST_FIXTURE;

export default defineConfig({
  test: {
    include: fixture ? [fixture] : ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    // One shared throwaway stack. Files run one after another: some commit data for a while
    // (parallel connections cannot share a transaction) and others count the demo data.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
