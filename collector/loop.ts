/**
 * Drives a {@link Sampler}: `tick()` every interval, `poll()` in between. Timers never throw: a failed
 * tick is logged and the next one runs.
 */
import type { Logger } from "../common/logger.js";
import type { Sampler } from "./sampler.js";

/**
 * Children lists of busy tracked trees are re-read this often, so a subprocess living ≥ ~10 ms is seen
 * (the short-lived children live < 100 ms). A poll is one read of /proc/loadavg when nothing
 * was forked; measured cost in BENCHMARKS.md "collector".
 */
export const DEFAULT_POLL_MS = 10;

export interface LoopOptions {
  intervalMs: number;
  pollMs?: number;
  /** Collect mode: look for new task roots host-wide before each tick. */
  discover: boolean;
  logger: Logger;
  /** Called after each tick (e.g. to end finished executions). */
  afterTick?: () => void;
}

export interface SamplerLoop {
  stop(): void;
  ticks(): number;
}

export function startSamplerLoop(sampler: Sampler, options: LoopOptions): SamplerLoop {
  let ticks = 0;
  const guarded = (what: string, work: () => void) => () => {
    try {
      work();
    } catch (error) {
      options.logger.error({ err: error }, `collector ${what} failed; continuing`);
    }
  };
  const tick = guarded("tick", () => {
    if (options.discover) sampler.discover();
    sampler.tick();
    ticks++;
    options.afterTick?.();
  });
  const poll = guarded("poll", () => sampler.poll());
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const tickTimer = setInterval(tick, options.intervalMs);
  const pollTimer = pollMs > 0 && pollMs < options.intervalMs ? setInterval(poll, pollMs) : null;
  return {
    stop() {
      clearInterval(tickTimer);
      if (pollTimer) clearInterval(pollTimer);
    },
    ticks: () => ticks,
  };
}
