import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { createPostgresTestDatabase, engines } from "../test-support/databases.js";
import { queryRows } from "./client.js";
import { migrateDatabase } from "./migrate.js";
import { migrationsFolder } from "./migrations-folder.js";
import { listPartitions, maintainPartitions } from "./queries/partitions.js";

async function tableNames(db: Parameters<typeof queryRows>[0]): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    sql`select tablename as name from pg_tables where schemaname = 'public' and tablename not like 'samples_p%' order by 1`,
  );
  return rows.map((row) => row.name);
}

describe.each(engines)("migrations on $name", ({ create }) => {
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await drop?.();
    drop = undefined;
  });

  it("create every table from empty, and a second run changes nothing", async () => {
    const database = await create({ migrate: false });
    drop = database.drop;
    const { db } = database.handle;
    await migrateDatabase(database.handle);
    const tables = await tableNames(db);
    expect(tables).toEqual([
      "analyses",
      "declared_requests",
      "execution_commands",
      "execution_processes",
      "host_samples",
      "hosts",
      "recommendations",
      "report_deliveries",
      "report_runs",
      "run_summaries",
      "samples",
      "task_executions",
      "task_profiles",
    ]);
    const journal = await queryRows<{ n: number }>(
      db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    const partitions = await listPartitions(db);

    const second = await migrateDatabase(database.handle);
    expect(second.partitions).toEqual([]);
    expect(await tableNames(db)).toEqual(tables);
    expect(await queryRows(db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual(
      journal,
    );
    expect(await listPartitions(db)).toEqual(partitions);
  });

  it("samples is partitioned by day: maintenance creates ahead and drops past retention", async () => {
    const database = await create();
    drop = database.drop;
    const { db } = database.handle;
    const day = (offset: number) => {
      const date = new Date(Date.now() + offset * 86_400_000);
      return `samples_p${date.toISOString().slice(0, 10).replaceAll("-", "")}`;
    };
    const partitions = await listPartitions(db);
    expect(partitions).toContain(day(-1));
    expect(partitions).toContain(day(0));
    expect(partitions).toContain(day(7));
    expect(partitions).not.toContain(day(8));

    // An old partition, 40 days back, as if the collector had written then.
    await db.execute(sql`select rightsize_ensure_partition((now() at time zone 'UTC')::date - 40)`);
    expect(await listPartitions(db)).toContain(day(-40));

    const changes = await maintainPartitions(db, 30, 9);
    expect(changes).toEqual(
      expect.arrayContaining([
        { action: "dropped", partition: day(-40) },
        { action: "created", partition: day(8) },
        { action: "created", partition: day(9) },
      ]),
    );
    expect(await listPartitions(db)).not.toContain(day(-40));
    const kind = await queryRows<{ strategy: string }>(
      db,
      sql`select partstrat as strategy from pg_partitioned_table where partrelid = 'samples'::regclass`,
    );
    expect(kind).toEqual([{ strategy: "r" }]);
  });
});

describe("migration 0006 (one delivery record)", () => {
  it("copies each email delivery from report_runs into report_deliveries", async () => {
    const database = await createPostgresTestDatabase({ migrate: false });
    const folder = mkdtempSync(join(tmpdir(), "rightsize-migrations-"));
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // The migrations up to 0005, as a database of the previous version holds them.
      const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta/_journal.json"), "utf8")) as {
        entries: Array<{ idx: number; tag: string }>;
      };
      const before = journal.entries.filter((entry) => entry.idx <= 5);
      mkdirSync(join(folder, "meta"));
      writeFileSync(join(folder, "meta/_journal.json"), JSON.stringify({ ...journal, entries: before }));
      for (const entry of before)
        cpSync(join(migrationsFolder, `${entry.tag}.sql`), join(folder, `${entry.tag}.sql`));
      await migratePostgres(drizzlePostgres(client), { migrationsFolder: folder });
      // Night a: failed, then sent (runs 1, 2), then a retry found it sent. Night b: failed twice.
      // Night c: only pending (the send's outcome unknown). A run without a key: no delivery.
      await client`
        insert into report_runs (id, window_end, email_status, email_error, delivery_key, generated_at)
        values (1, '2026-11-21T02:00Z', 'failed', 'ECONNREFUSED', 'night-a', '2026-11-21T02:01Z'),
               (2, '2026-11-21T02:00Z', 'sent', null, 'night-a', '2026-11-21T02:02Z'),
               (3, '2026-11-22T02:00Z', 'failed', 'timeout 1', 'night-b', '2026-11-22T02:01Z'),
               (4, '2026-11-22T02:00Z', 'failed', 'timeout 2', 'night-b', '2026-11-22T02:02Z'),
               (5, '2026-11-23T02:00Z', 'pending', null, 'night-c', '2026-11-23T02:01Z'),
               (6, '2026-11-23T02:00Z', 'sent', null, null, '2026-11-23T02:01Z')`;
      await client`
        insert into report_deliveries (delivery_key, channel, status) values ('night-a', 'slack', 'sent')`;

      await migrateDatabase(database.handle);
      const rows = await client`
        select delivery_key, channel, status, error, attempts, report_run_id,
               (updated_at at time zone 'UTC')::text as updated_at
        from report_deliveries order by delivery_key, channel`;
      expect([...rows]).toEqual([
        {
          delivery_key: "night-a",
          channel: "email",
          status: "sent",
          error: null,
          attempts: 2,
          report_run_id: 2,
          updated_at: "2026-11-21 02:02:00",
        },
        expect.objectContaining({
          delivery_key: "night-a",
          channel: "slack",
          status: "sent",
          report_run_id: null,
        }),
        {
          delivery_key: "night-b",
          channel: "email",
          status: "failed",
          error: "timeout 2",
          attempts: 2,
          report_run_id: 4,
          updated_at: "2026-11-22 02:02:00",
        },
      ]);
    } finally {
      await client.end();
      rmSync(folder, { recursive: true, force: true });
      await database.drop();
    }
  });
});
