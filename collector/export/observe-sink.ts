import { coerceError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { SampleSink } from "../tracking/sampler.js";

/**
 * The writer, plus an observer that sees the same rows. The observer's failures are logged and never
 * reach the sampler: an export problem must not cost a sample. The writer gets each call first, so
 * what is stored never waits on an exporter.
 */
export function observeSink(primary: SampleSink, observer: SampleSink | null, logger: Logger): SampleSink {
  if (!observer) return primary;
  const safely = (what: keyof SampleSink, call: () => void) => {
    try {
      call();
    } catch (error) {
      logger.warn({ err: coerceError(error) }, `metrics observer failed on ${what}`);
    }
  };
  return {
    execution(row) {
      primary.execution(row);
      safely("execution", () => observer.execution(row));
    },
    samples(rows) {
      primary.samples(rows);
      safely("samples", () => observer.samples(rows));
    },
    processes(rows) {
      primary.processes(rows);
      safely("processes", () => observer.processes(rows));
    },
    // Host samples are stored only: no exporter reads them.
    hostSamples(rows) {
      primary.hostSamples?.(rows);
    },
  };
}
