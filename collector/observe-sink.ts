import { coerceError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { SampleSink } from "./sampler.js";

/**
 * The writer, plus an observer that sees the same rows. The observer's failures are logged and never
 * reach the sampler: an export problem must not cost a sample.
 */
export function observeSink<T extends SampleSink>(
  primary: T,
  observer: SampleSink | null,
  logger: Logger,
): T {
  if (!observer) return primary;
  const safely = (what: string, call: () => void) => {
    try {
      call();
    } catch (error) {
      logger.warn({ err: coerceError(error) }, `metrics observer failed on ${what}`);
    }
  };
  return new Proxy(primary, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "execution" || property === "samples" || property === "processes") {
        return (rows: never) => {
          (value as (rows: never) => void).call(target, rows);
          safely(property, () => (observer[property] as (rows: never) => void)(rows));
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
