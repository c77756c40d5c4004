import { defineConfig } from "vitest/config";

// Pure-logic tests (`*.test.ts`) run apart from integration tests (`*.int.test.ts`), which talk to the real
// Postgres, Redis, SMTP server, git and browser; see README "Tests".
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "node_modules/**", "dist/**"],
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
          // Collector tests measure real processes: too many at once on a 2-core machine would skew
          // the very numbers they check.
          maxWorkers: 2,
        },
      },
    ],
  },
});
