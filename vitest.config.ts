import { defineConfig } from "vitest/config";

// Pure-logic tests (`*.test.ts`) run apart from integration tests (`*.int.test.ts`), which talk to the real
// Postgres, Redis, SMTP server, git and browser; see README "Tests".
export default defineConfig({
  test: {
    // Collector tests measure real processes: more files at once than cores would skew the very numbers
    // they check.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "unit",
          include: ["**/*.test.ts"],
          // Property tests (fast-check) and the tests that load every command module take seconds on a
          // busy 2-core machine; 5 s (vitest's default) cut them off there without any failure of theirs.
          testTimeout: 60_000,
          exclude: ["**/*.int.test.ts", "**/*.e2e.test.ts", "node_modules/**", "dist/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["**/*.int.test.ts"],
          exclude: ["node_modules/**", "dist/**"],
          globalSetup: ["test-support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // End-to-end runs of the whole product measure real workloads: they run alone, after the
          // other projects (`npm test` starts them separately), so parallel tests don't load the cores
          // the workloads are classified by.
          name: "e2e",
          include: ["**/*.e2e.test.ts"],
          exclude: ["node_modules/**", "dist/**"],
          globalSetup: ["test-support/global-setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // Real workloads on a shared 2-core machine: a stray load spike (another tenant, a package
          // index refresh) can tip one borderline classification. One retry of the whole test, which
          // reruns every workload; two failures in a row fail the run.
          retry: 1,
        },
      },
    ],
  },
});
