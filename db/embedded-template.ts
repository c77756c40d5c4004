/**
 * A new embedded database folder starts from a prepared data directory, not from initdb and the
 * migrations.
 *
 * PGlite creates a new folder by running initdb in a second WebAssembly instance of Postgres beside the
 * first; that first start peaked at 898 MiB RSS against 324 MiB for reopening the same folder
 * (BENCHMARKS.md "wrapper", the owner's memory profile). So `npm run build` (scripts/build-embedded-template.mjs)
 * creates one database in memory, applies the committed migrations, and keeps PGlite's dump of its data
 * directory (`dumpDataDir`, a gzip'd tar) beside this module with a manifest of what it holds: the digest
 * of the migrations and the PGlite version. An owner that finds a folder without `PG_VERSION` unpacks the
 * template into it when the manifest matches the migrations and PGlite installed beside it, and falls back
 * to initdb otherwise; the migrator runs after either (a template holds every migration, so it finds
 * nothing to do).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { codePath } from "../common/package-root.js";
import { migrationsFolder } from "./migrations-folder.js";

/** Where `npm run build` puts the template: dist/db/, beside this module as tsc builds it. */
export const embeddedTemplateFile = codePath("db", "embedded-template.tar.gz");

/** What a template holds; a template whose manifest differs from what is installed is not used. */
export interface TemplateManifest {
  /** {@link migrationsDigest} of the migrations applied to it. */
  migrations: string;
  /** The `@electric-sql/pglite` version whose Postgres wrote it (its catalog must match the reader's). */
  pglite: string;
}

export function manifestFile(templateFile: string): string {
  return templateFile.replace(/\.tar\.gz$/, "") + ".json";
}

/**
 * SHA-256 over what drizzle's migrator reads: the journal and every SQL file of the folder, by name. A
 * changed, added or removed migration changes it.
 */
export function migrationsDigest(folder: string = migrationsFolder): string {
  const hash = createHash("sha256");
  const files = [
    "meta/_journal.json",
    ...readdirSync(folder)
      .filter((name) => name.endsWith(".sql"))
      .sort(),
  ];
  for (const name of files) {
    const content = readFileSync(join(folder, name));
    hash.update(`${name}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest("hex");
}

/** The installed PGlite's version, from its package.json (its exports do not name the file). */
export function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "@electric-sql/pglite" && pkg.version) return pkg.version;
  }
  throw new Error(`no package.json of @electric-sql/pglite above ${entry}`);
}

export function currentManifest(folder: string = migrationsFolder): TemplateManifest {
  return { migrations: migrationsDigest(folder), pglite: pgliteVersion() };
}

/**
 * Creates a database in memory, migrates it with `migrations` and writes its data directory to
 * `templateFile` (gzip'd tar) and the manifest beside it.
 */
export async function buildEmbeddedTemplate(
  templateFile: string = embeddedTemplateFile,
  migrations: string = migrationsFolder,
): Promise<TemplateManifest> {
  const manifest = currentManifest(migrations);
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  const client = await PGlite.create();
  try {
    await migrate(drizzle(client), { migrationsFolder: migrations });
    // A checkpoint first, so the dump needs no WAL replay when it is opened.
    await client.exec("checkpoint");
    const dump = await client.dumpDataDir("gzip");
    writeFileSync(templateFile, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await client.close();
  }
  writeFileSync(manifestFile(templateFile), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Whether the template was unpacked into the folder, and why not. */
export type SeedOutcome = { seeded: true } | { seeded: false; reason: string };

/**
 * Unpacks the template into `folder` (a new database folder: no `PG_VERSION`) when its manifest matches
 * the installed migrations and PGlite. It unpacks into `FOLDER/.template` first and then moves each entry
 * into place, `PG_VERSION` last: PGlite takes a folder with `PG_VERSION` for a database, so a start cut
 * short leaves a folder the next start seeds again. A damaged template throws
 * {@link EmbeddedTemplateError}, after removing what it unpacked and moved.
 */
export function seedFromTemplate(
  folder: string,
  templateFile: string = embeddedTemplateFile,
  expected?: TemplateManifest,
): SeedOutcome {
  if (existsSync(join(folder, "PG_VERSION"))) return { seeded: false, reason: "the folder holds a database" };
  const manifestPath = manifestFile(templateFile);
  if (!existsSync(templateFile) || !existsSync(manifestPath))
    return { seeded: false, reason: `no template ${templateFile} (npm run build makes it)` };
  let manifest: TemplateManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as TemplateManifest;
  } catch (error) {
    throw new EmbeddedTemplateError(`${manifestPath}: not JSON`, { cause: error });
  }
  expected ??= currentManifest();
  if (manifest.migrations !== expected.migrations)
    return {
      seeded: false,
      reason: `template ${templateFile} holds other migrations than ${migrationsFolder}`,
    };
  if (manifest.pglite !== expected.pglite)
    return {
      seeded: false,
      reason: `template ${templateFile} was written by PGlite ${manifest.pglite}, not ${expected.pglite}`,
    };
  const staging = join(folder, ".template");
  rmSync(staging, { recursive: true, force: true });
  const moved: string[] = [];
  try {
    const files = unpackTar(gunzipSync(readFileSync(templateFile)), staging, templateFile);
    const top = [...new Set(files.map((path) => path.split("/")[0]!))];
    if (!top.includes("PG_VERSION"))
      throw new EmbeddedTemplateError(`${templateFile}: no PG_VERSION in the template`);
    // What a start cut short moved in before is no database yet (no PG_VERSION): it is replaced.
    for (const name of [...top.filter((name) => name !== "PG_VERSION"), "PG_VERSION"]) {
      rmSync(join(folder, name), { recursive: true, force: true });
      renameSync(join(staging, name), join(folder, name));
      moved.push(name);
    }
  } catch (error) {
    // The folder goes back to what it was without a database, so that initdb can still make one.
    for (const name of moved) rmSync(join(folder, name), { recursive: true, force: true });
    throw error instanceof EmbeddedTemplateError
      ? error
      : new EmbeddedTemplateError(`${templateFile}: cannot unpack into ${folder}`, { cause: error });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { seeded: true };
}

/** The template file is damaged or cannot be unpacked. */
export class EmbeddedTemplateError extends Error {
  override name = "EmbeddedTemplateError";
}

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

function octal(header: Buffer, offset: number, length: number, where: string): number {
  const text = field(header, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new EmbeddedTemplateError(`${where}: bad number ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

/**
 * Writes a POSIX ustar archive's directories and regular files (all PGlite's dumpDataDir writes) under
 * `into`, and returns their paths. Entries are named relative to the data directory (PGlite writes
 * `/base/1/…`); anything else (links, a `..` component, a bad checksum) is refused naming the entry's
 * offset in the archive.
 */
export function unpackTar(tar: Buffer, into: string, source: string): string[] {
  const written: string[] = [];
  mkdirSync(into, { recursive: true, mode: 0o700 });
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const where = `${source}: tar entry at byte ${offset}`;
    // ustar's checksum: the header's bytes summed with the checksum field read as spaces.
    let sum = 0;
    for (let index = 0; index < BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : header[index]!;
    if (sum !== octal(header, 148, 8, where))
      throw new EmbeddedTemplateError(`${where}: bad header checksum`);
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + field(header, 0, 100);
    const path = name.split("/").filter((part) => part !== "" && part !== ".");
    if (path.length === 0 || path.includes(".."))
      throw new EmbeddedTemplateError(`${where}: refused path ${JSON.stringify(name)}`);
    const size = octal(header, 124, 12, where);
    const type = String.fromCharCode(header[156]!);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) throw new EmbeddedTemplateError(`${where}: cut short`);
    const target = join(into, ...path);
    if (type === "5") {
      mkdirSync(target, { recursive: true, mode: 0o700 });
    } else if (type === "0" || type === "\0") {
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, tar.subarray(dataStart, dataStart + size), { mode: 0o600 });
    } else {
      throw new EmbeddedTemplateError(`${where}: entry type ${JSON.stringify(type)} is not a file or folder`);
    }
    written.push(path.join("/"));
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return written;
}
