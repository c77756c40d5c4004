/** Deliveries of a night's summary to channels other than the email (Slack): sent once per delivery key. */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { reportDeliveries } from "../schema.js";

export type ReportDeliveryRow = typeof reportDeliveries.$inferSelect;

export async function getDelivery(
  db: Db,
  deliveryKey: string,
  channel: string,
): Promise<ReportDeliveryRow | undefined> {
  const rows = await db
    .select()
    .from(reportDeliveries)
    .where(and(eq(reportDeliveries.deliveryKey, deliveryKey), eq(reportDeliveries.channel, channel)))
    .limit(1);
  return rows[0];
}

/** Records an attempt's outcome; a later attempt of the same delivery overwrites it and counts. */
export async function recordDelivery(
  db: Db,
  delivery: { deliveryKey: string; channel: string; status: "sent" | "failed"; error?: string | null },
): Promise<void> {
  const error = delivery.error ?? null;
  await db
    .insert(reportDeliveries)
    .values({ ...delivery, error })
    .onConflictDoUpdate({
      target: [reportDeliveries.deliveryKey, reportDeliveries.channel],
      set: {
        status: delivery.status,
        error,
        attempts: sql`${reportDeliveries.attempts} + 1`,
        updatedAt: sql`now()`,
      },
    });
}
