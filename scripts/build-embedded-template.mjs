// Writes dist/db/embedded-template.tar.gz: a data directory with the committed migrations applied, from
// which an owner starts a new embedded database folder (db/embedded-template.ts). Kept when its manifest
// already matches the migrations and PGlite installed, since a build makes it again only when they change.
import { existsSync, readFileSync } from "node:fs";
import {
  buildEmbeddedTemplate,
  currentManifest,
  embeddedTemplateFile,
  manifestFile,
} from "../dist/db/embedded-template.js";

const wanted = currentManifest();
const manifest = manifestFile(embeddedTemplateFile);
const current =
  existsSync(embeddedTemplateFile) && existsSync(manifest)
    ? JSON.parse(readFileSync(manifest, "utf8"))
    : null;
if (current?.migrations !== wanted.migrations || current?.pglite !== wanted.pglite) {
  await buildEmbeddedTemplate();
  process.stdout.write(`wrote ${embeddedTemplateFile}\n`);
}
