import { defineConfig } from "drizzle-kit";

// Migrations are generated from db/schema.ts and committed; `rightsize db migrate` applies them on
// Postgres and PGlite alike. Hand-written SQL (partitioning, maintenance functions) lives in custom
// migrations in the same folder.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./db/migrations",
});
