import { codePath } from "../common/package-root.js";

/** The committed migrations (drizzle-kit): db/migrations in the source tree and in dist/. */
export const migrationsFolder = codePath("db", "migrations");
