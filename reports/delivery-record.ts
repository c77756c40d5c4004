/**
 * The once-only rule every channel of the nightly publish follows (the email in reports/publish.ts, Slack
 * in reports/slack.ts), kept in report_deliveries under (delivery key, channel):
 *
 * - an attempt that finds its delivery already sent does not send it again;
 * - a send is recorded the moment the channel accepted it, before anything else can fail, retried
 *   against a short database blip; when even that fails, {@link DeliveryRecordError}: the caller must not
 *   retry (the nightly job turns it into an unrecoverable failure), since a retry would send it twice;
 * - a failed send is recorded too, as far as the database lets it; the send's own error decides whether
 *   the job retries.
 */
import { coerceError, describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Db } from "../db/client.js";
import {
  type DeliveryChannel,
  getDelivery,
  type ReportDeliveryRow,
  recordDelivery,
} from "../db/queries/report-deliveries.js";

/** The channel accepted the delivery but recording that failed, even after retries: do not retry. */
export class DeliveryRecordError extends Error {
  override name = "DeliveryRecordError";
}

/**
 * Recording a send is tried 5 times, 0.5 s doubling (about 15 s in all, the SMTP and Slack timeouts'
 * length): it rides out a short database blip without leaving the send unrecorded.
 */
const RECORD_ATTEMPTS = 5;
const RECORD_FIRST_DELAY_MS = 500;

/** What one delivery is: its key (none: sent every time, recorded nowhere) and channel. */
export interface Delivery {
  deliveryKey: string | null;
  channel: DeliveryChannel;
  /** The email's report run. */
  reportRunId?: number;
}

/** The record of an earlier attempt that sent this delivery, if one did. */
export async function sentEarlier(db: Db, delivery: Delivery): Promise<ReportDeliveryRow | undefined> {
  if (delivery.deliveryKey === null) return undefined;
  const row = await getDelivery(db, delivery.deliveryKey, delivery.channel);
  return row?.status === "sent" ? row : undefined;
}

/**
 * Records that the channel accepted the delivery, with `alsoRecord` (the email's report run) in the same
 * transaction. Throws {@link DeliveryRecordError} when the database refused every attempt.
 */
export async function recordSent(
  db: Db,
  delivery: Delivery,
  alsoRecord?: (tx: Db) => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.transaction(async (transaction) => {
        const tx = transaction as unknown as Db;
        if (delivery.deliveryKey !== null) {
          await recordDelivery(tx, {
            deliveryKey: delivery.deliveryKey,
            channel: delivery.channel,
            status: "sent",
            reportRunId: delivery.reportRunId ?? null,
          });
        }
        await alsoRecord?.(tx);
      });
      return;
    } catch (error) {
      if (attempt >= RECORD_ATTEMPTS) {
        throw new DeliveryRecordError(
          `the ${delivery.channel} delivery ${delivery.deliveryKey ?? "(without a key)"} went out but could not be recorded: not retrying, so it is not sent twice`,
          { cause: coerceError(error) },
        );
      }
      await new Promise((done) => setTimeout(done, RECORD_FIRST_DELAY_MS * 2 ** (attempt - 1)));
    }
  }
}

/**
 * Records a failed send. Never throws: the send's error is what the caller acts on, and a failure left
 * unrecorded only means the next attempt sends, as it would anyway.
 */
export async function recordFailed(db: Db, delivery: Delivery, error: string, logger: Logger): Promise<void> {
  if (delivery.deliveryKey === null) return;
  try {
    await recordDelivery(db, {
      deliveryKey: delivery.deliveryKey,
      channel: delivery.channel,
      status: "failed",
      error,
      reportRunId: delivery.reportRunId ?? null,
    });
  } catch (thrown) {
    logger.warn(
      {
        deliveryKey: delivery.deliveryKey,
        channel: delivery.channel,
        error: describeError(coerceError(thrown)),
      },
      "failed delivery not recorded",
    );
  }
}
