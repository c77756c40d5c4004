/** Worker hosts. */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { hosts } from "../schema.js";

export type HostRow = typeof hosts.$inferSelect;
export type NewHost = typeof hosts.$inferInsert;

/** Records a host's inventory; a known host keeps its first_seen and gets the new inventory. */
export async function upsertHost(db: Db, host: NewHost): Promise<void> {
  const { id: _id, firstSeen: _first, ...update } = host;
  await db
    .insert(hosts)
    .values(host)
    .onConflictDoUpdate({ target: hosts.id, set: { ...update, lastSeen: sql`now()` } });
}

export async function getHost(db: Db, id: string): Promise<HostRow | undefined> {
  const rows = await db.select().from(hosts).where(eq(hosts.id, id));
  return rows[0];
}
