/**
 * The once-only record of each delivery of a night's summary, per channel (`email`, `slack`): what the
 * publish reads before sending and writes the moment a channel accepted it (reports/delivery-record.ts).
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { reportDeliveries } from "../schema.js";

export type ReportDeliveryRow = typeof reportDeliveries.$inferSelect;

/** The channels a night's summary goes to. */
export type DeliveryChannel = "email" | "slack";

export async function getDelivery(
  db: Db,
  deliveryKey: string,
  channel: DeliveryChannel,
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
  delivery: {
    deliveryKey: string;
    channel: DeliveryChannel;
    status: "sent" | "failed";
    error?: string | null;
    /** The email's report run; null for other channels. */
    reportRunId?: number | null;
  },
): Promise<void> {
  const error = delivery.error ?? null;
  const reportRunId = delivery.reportRunId ?? null;
  await db
    .insert(reportDeliveries)
    .values({ ...delivery, error, reportRunId })
    .onConflictDoUpdate({
      target: [reportDeliveries.deliveryKey, reportDeliveries.channel],
      set: {
        status: delivery.status,
        error,
        reportRunId,
        attempts: sql`${reportDeliveries.attempts} + 1`,
        updatedAt: sql`now()`,
      },
    });
}
