/** Sample partition maintenance: create ahead, drop past retention (db/migrations/0001_*.sql). */
import { sql } from "drizzle-orm";
import { type Db, queryRows } from "../client.js";

export interface PartitionChange {
  action: "created" | "dropped";
  partition: string;
}

export async function maintainPartitions(
  db: Db,
  retentionDays: number,
  aheadDays: number,
): Promise<PartitionChange[]> {
  const rows = await queryRows<{ action: "created" | "dropped"; partition_name: string }>(
    db,
    sql`select action, partition_name from rightsize_maintain_partitions(${Math.ceil(retentionDays)}::int, ${Math.ceil(aheadDays)}::int)`,
  );
  return rows.map((row) => ({ action: row.action, partition: row.partition_name }));
}

/** Makes sure the daily partitions covering [from, to] exist; writers call it before inserting samples. */
export async function ensurePartitions(db: Db, from: Date, to: Date): Promise<void> {
  await db.execute(
    sql`select rightsize_ensure_partition(d::date)
        from generate_series(date_trunc('day', ${from.toISOString()}::timestamptz at time zone 'UTC'),
                             ${to.toISOString()}::timestamptz at time zone 'UTC', interval '1 day') d`,
  );
}

export async function listPartitions(db: Db): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'samples'::regclass order by 1`,
  );
  return rows.map((row) => row.name);
}
