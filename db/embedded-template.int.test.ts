/**
 * The prepared data directory a new embedded folder starts from (db/embedded-template.ts): built from the
 * committed migrations, it gives the same schema as initdb and the migrations; the template `npm run
 * build` wrote matches db/migrations; a template of other migrations is not used; a damaged one is refused
 * without leaving a half database behind.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, openDatabase, queryRows } from "./client.js";
import {
  buildEmbeddedTemplate,
  EmbeddedTemplateError,
  manifestFile,
  migrationsDigest,
  seedFromTemplate,
  type TemplateManifest,
} from "./embedded-template.js";
import { migrationsFolder } from "./migrations-folder.js";

const home = mkdtempSync(join(tmpdir(), "rightsize-template-"));
const template = join(home, "template.tar.gz");
let manifest: TemplateManifest;
afterAll(() => rmSync(home, { recursive: true, force: true }));

beforeAll(async () => {
  manifest = await buildEmbeddedTemplate(template, migrationsFolder);
}, 300_000);

/** Every object of the schemas rightsize owns, with its definition, in a stable order. */
async function schemaOf(handle: DatabaseHandle): Promise<unknown[]> {
  const { db } = handle;
  return [
    await queryRows(
      db,
      sql`select table_schema, table_name, column_name, data_type, is_nullable, column_default
          from information_schema.columns where table_schema in ('public', 'drizzle')
          order by 1, 2, ordinal_position`,
    ),
    await queryRows(
      db,
      sql`select schemaname, tablename, indexname, indexdef from pg_indexes
          where schemaname in ('public', 'drizzle') order by 1, 2, 3`,
    ),
    await queryRows(
      db,
      sql`select conrelid::regclass::text as rel, conname, pg_get_constraintdef(oid) as def
          from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`,
    ),
    await queryRows(
      db,
      sql`select proname, pg_get_functiondef(oid) as def from pg_proc
          where pronamespace = 'public'::regnamespace order by 1`,
    ),
    await queryRows(db, sql`select hash, created_at from drizzle.__drizzle_migrations order by id`),
  ];
}

describe("the embedded database template", () => {
  it("opens with the same schema as a folder made by initdb and the migrations", async () => {
    const seeded = join(home, "seeded");
    // What a start cut short left behind: no PG_VERSION yet, so no database, and replaced.
    mkdirSync(join(seeded, "global"), { recursive: true, mode: 0o700 });
    writeFileSync(join(seeded, "global", "left-over"), "");
    expect(seedFromTemplate(seeded, template)).toEqual({ seeded: true });
    expect(readdirSync(seeded)).not.toContain(".template");
    expect(existsSync(join(seeded, "global", "left-over"))).toBe(false);
    // The source tree holds no template (a build writes it into dist/), so this folder gets initdb.
    const fresh = join(home, "fresh");
    const fromTemplate = await openDatabase(seeded);
    const fromInitdb = await openDatabase(fresh);
    try {
      const expected = await schemaOf(fromInitdb);
      expect((expected[0] as unknown[]).length).toBeGreaterThan(50);
      expect(await schemaOf(fromTemplate)).toEqual(expected);
      // And it takes rows.
      await fromTemplate.db.execute(
        sql`insert into hosts (id, hostname) values ('template-host', 'template-host')`,
      );
      expect(
        await queryRows(fromTemplate.db, sql`select hostname from hosts where id = 'template-host'`),
      ).toEqual([{ hostname: "template-host" }]);
      // The owner's memory settings (db/embedded.ts OWNER_SETTINGS) hold on either folder.
      for (const handle of [fromTemplate, fromInitdb])
        expect(await queryRows(handle.db, sql`select current_setting('shared_buffers') as value`)).toEqual([
          { value: "16MB" },
        ]);
    } finally {
      await fromTemplate.close();
      await fromInitdb.close();
    }
  });

  it("the template npm run build wrote holds the committed migrations", () => {
    const built = fileURLToPath(new URL("../dist/db/embedded-template.json", import.meta.url));
    expect(existsSync(built), `${built}: run npm run build`).toBe(true);
    const { migrations } = JSON.parse(readFileSync(built, "utf8")) as TemplateManifest;
    expect(migrations).toBe(migrationsDigest(migrationsFolder));
    expect(manifest.migrations).toBe(migrations);
  });

  it("is not used when the migrations changed since it was built", () => {
    const changed = join(home, "migrations");
    cpSync(migrationsFolder, changed, { recursive: true });
    const last = readdirSync(changed)
      .filter((name) => name.endsWith(".sql"))
      .sort()
      .at(-1)!;
    writeFileSync(join(changed, last), `${readFileSync(join(changed, last), "utf8")}\n-- changed\n`);
    expect(migrationsDigest(changed)).not.toBe(manifest.migrations);

    const folder = join(home, "stale");
    mkdirSync(folder, { mode: 0o700 });
    const outcome = seedFromTemplate(folder, template, {
      ...manifest,
      migrations: migrationsDigest(changed),
    });
    expect(outcome.seeded).toBe(false);
    expect(outcome).toMatchObject({ reason: expect.stringContaining("other migrations") });
    const otherPglite = seedFromTemplate(folder, template, { ...manifest, pglite: "0.0.1" });
    expect(otherPglite).toMatchObject({ seeded: false, reason: expect.stringContaining("PGlite 0.5") });
    expect(readdirSync(folder)).toEqual([]);
    expect(seedFromTemplate(folder, join(home, "absent.tar.gz"))).toMatchObject({ seeded: false });
  });

  it("refuses a damaged template and leaves the folder without a database", () => {
    const header = (name: string, size: number, type: string) => {
      const block = Buffer.alloc(512);
      block.write(name, 0);
      block.write("0000600\0", 100);
      block.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
      block.write(type, 156);
      block.write("ustar\0", 257);
      block.write("00", 263);
      block.fill(0x20, 148, 156);
      let sum = 0;
      for (const byte of block) sum += byte;
      block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
      return block;
    };
    const data = Buffer.alloc(512);
    data.write("17\n");
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        "escape",
        Buffer.concat([header("/PG_VERSION", 3, "0"), data, header("../outside", 3, "0"), data]),
        /refused path "..\/outside"/,
      ],
      ["link", Buffer.concat([header("/pg_wal", 0, "2")]), /entry type "2"/],
      [
        "checksum",
        Buffer.concat([header("/PG_VERSION", 3, "0").fill(0x41, 0, 1), data]),
        /bad header checksum/,
      ],
      ["no PG_VERSION", Buffer.concat([header("/global/1213", 3, "0"), data]), /no PG_VERSION/],
    ];
    for (const [name, tar, message] of cases) {
      const file = join(home, `${name}.tar.gz`);
      writeFileSync(file, gzipSync(Buffer.concat([tar, Buffer.alloc(1024)])));
      writeFileSync(manifestFile(file), JSON.stringify(manifest));
      const folder = join(home, `damaged-${name}`);
      mkdirSync(folder, { mode: 0o700 });
      expect(() => seedFromTemplate(folder, file, manifest), name).toThrow(EmbeddedTemplateError);
      expect(() => seedFromTemplate(folder, file, manifest), name).toThrow(message);
      expect(existsSync(join(folder, "PG_VERSION")), name).toBe(false);
      expect(existsSync(join(folder, ".template")), name).toBe(false);
      expect(existsSync(join(home, "outside")), name).toBe(false);
    }
  });
});
