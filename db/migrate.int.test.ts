import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { engines } from "../test-support/databases.js";
import { queryRows } from "./client.js";
import { migrateDatabase } from "./migrate.js";
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
      "execution_processes",
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
