/**
 * Drives a {@link Sampler}: `tick()` every interval, `poll()` in between. Timers never throw: a failed
 * tick is logged and the next one runs.
 */
import type { Logger } from "../../common/logger.js";
import type { Sampler } from "./sampler.js";

/**
 * Children lists of busy tracked trees are re-read this often, so a subprocess living ≥ ~10 ms is seen
 * (collector/run.int.test.ts's children live ~50 ms). A poll is one read of /proc/loadavg when nothing
 * was forked; measured cost in BENCHMARKS.md "collector".
 */
export const DEFAULT_POLL_MS = 10;

/**
 * While no tracked tree spawned in the last 2 s, polls run this often instead: quiet trees are read
 * every 200 ms anyway, so faster polling would only cost timer wake-ups (~11 ms CPU/s at 100 Hz with
 * 50 trees, BENCHMARKS.md "collector").
 */
export const QUIET_POLL_MS = 50;

export interface LoopOptions {
  intervalMs: number;
  pollMs?: number;
  /** Collect mode: look for new task roots host-wide before each tick. */
  discover: boolean;
  logger: Logger;
  /** Called after each tick (e.g. to end finished executions). */
  afterTick?: () => void;
  /** Told the CPU time (user + system, µs) each discovery + tick took (the health metrics). */
  tickCpu?: (micros: number) => void;
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
    const before = options.tickCpu ? process.cpuUsage() : null;
    if (options.discover) sampler.discover();
    sampler.tick();
    ticks++;
    if (before) {
      const used = process.cpuUsage(before);
      options.tickCpu!(used.user + used.system);
    }
    options.afterTick?.();
  });
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const quietMs = Math.max(pollMs, QUIET_POLL_MS);
  let stopped = false;
  let pollTimer: NodeJS.Timeout | null = null;
  const poll = () => {
    let busy = true;
    guarded("poll", () => {
      busy = sampler.poll();
    })();
    // Nothing to poll (exits come from accounting records): look again at the next tick's pace.
    const next = busy ? pollMs : sampler.pollNeeded() ? quietMs : options.intervalMs;
    if (!stopped) pollTimer = setTimeout(poll, next);
  };
  const tickTimer = setInterval(tick, options.intervalMs);
  if (pollMs > 0 && pollMs < options.intervalMs) pollTimer = setTimeout(poll, pollMs);
  return {
    stop() {
      stopped = true;
      clearInterval(tickTimer);
      if (pollTimer) clearTimeout(pollTimer);
    },
    ticks: () => ticks,
  };
}
