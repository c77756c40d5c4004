// Copies the non-TypeScript files the built code reads at run time (migrations, templates) next to it,
// so `dist/` runs on its own.
import { cpSync, existsSync } from "node:fs";

for (const dir of ["db/migrations", "reports/templates"]) {
  if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true });
}
