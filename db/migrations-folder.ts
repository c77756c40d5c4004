import { fileURLToPath } from "node:url";

/** The committed migrations (drizzle-kit), beside this module in the source tree and in dist/. */
export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));
