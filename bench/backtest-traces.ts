/**
 * Seeded traces of batch tasks with known true needs, for the sizing policies' benchmark
 * (bench/backtest.bench.ts): each run's true peak memory and its per-second CPU demand (a 101-point
 * quantile sketch, as run_summaries keeps it), in the shapes batch tasks take. The same seed gives the
 * same traces.
 *
 * Shapes (chosen to cover the failure reports sizers get: rare spikes missed by a percentile, growth after
 * the window, weekly peaks, short noisy runs):
 * - steady: the same work every run, memory within ±2 %;
 * - bursty: mostly 0.3 cores with bursts to several cores for a tenth of the run; memory ±10 %;
 * - growing: input grows 1 % a run, memory and CPU time with it;
 * - weekly: every 7th run processes twice the data (a Monday catch-up);
 * - spike: one run in 50 needs three times the memory;
 * - short: many 30-second runs with noisy memory (log-normal, 15 %).
 */
import type { BacktestRun } from "../analyzer/policies.js";
import { MiB } from "../common/units.js";

export const traceShapes = ["steady", "bursty", "growing", "weekly", "spike", "short"] as const;
export type TraceShape = (typeof traceShapes)[number];

export interface TracedTask {
  name: string;
  shape: TraceShape;
  /** Oldest first: each run's true needs, as a summary would record them when nothing capped it. */
  runs: BacktestRun[];
}

/** mulberry32: a small seeded generator (public domain), enough for reproducible traces. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * A run's per-second cores as a 101-point sketch: `base` cores for most of it and `burst` cores for the
 * top `burstShare` of its seconds, with a little noise, sorted as a quantile function is.
 */
function sketchOf(random: () => number, base: number, burst: number, burstShare: number): number[] {
  const points: number[] = [];
  for (let index = 0; index <= 100; index++) {
    const inBurst = index / 100 > 1 - burstShare;
    const level = inBurst ? burst : base;
    points.push(Math.max(0, level * (1 + 0.05 * normal(random))));
  }
  return points.sort((a, b) => a - b);
}

interface RunShape {
  seconds: number;
  peakBytes: number;
  base: number;
  burst: number;
  burstShare: number;
}

function shapeOf(shape: TraceShape, index: number, random: () => number, scale: number): RunShape {
  const noisy = (spread: number) => 1 + spread * normal(random);
  switch (shape) {
    case "steady":
      return {
        seconds: 600,
        peakBytes: 512 * MiB * scale * noisy(0.02),
        base: 1,
        burst: 1.1,
        burstShare: 0.05,
      };
    case "bursty":
      return {
        seconds: 900,
        peakBytes: 768 * MiB * scale * noisy(0.1),
        base: 0.3,
        burst: 3 * scale,
        burstShare: 0.1,
      };
    case "growing": {
      const growth = 1.01 ** index;
      return {
        seconds: 600 * growth,
        peakBytes: 400 * MiB * scale * growth * noisy(0.02),
        base: 1.2,
        burst: 1.4,
        burstShare: 0.05,
      };
    }
    case "weekly": {
      const peak = index % 7 === 0 ? 2 : 1;
      return {
        seconds: 1200 * peak,
        peakBytes: 1024 * MiB * scale * peak * noisy(0.03),
        base: 1.5 * (peak === 2 ? 1.5 : 1),
        burst: 2,
        burstShare: 0.05,
      };
    }
    case "spike": {
      const spiked = random() < 1 / 50 ? 3 : 1;
      return {
        seconds: 900,
        peakBytes: 600 * MiB * scale * spiked * noisy(0.02),
        base: 0.8,
        burst: 1,
        burstShare: 0.05,
      };
    }
    case "short":
      return {
        seconds: 30,
        peakBytes: 200 * MiB * scale * Math.exp(0.15 * normal(random)),
        base: 0.5,
        burst: 1,
        burstShare: 0.2,
      };
  }
}

/** Runs a day for each shape: short tasks run often, the others daily or a few times a day. */
const runsPerDay: Record<TraceShape, number> = {
  steady: 1,
  bursty: 4,
  growing: 1,
  weekly: 1,
  spike: 2,
  short: 24,
};

/** `tasksPerShape` tasks of every shape, `runs` runs each, from `seed`. */
export function generateTraces(seed: number, tasksPerShape: number, runs: number): TracedTask[] {
  const random = seededRandom(seed);
  const start = Date.UTC(2026, 9, 1);
  const tasks: TracedTask[] = [];
  for (const shape of traceShapes) {
    for (let number = 0; number < tasksPerShape; number++) {
      // Tasks of one shape differ in size, from half to twice the base.
      const scale = 0.5 + 1.5 * random();
      const traced: BacktestRun[] = [];
      for (let index = 0; index < runs; index++) {
        const run = shapeOf(shape, index, random, scale);
        const sketch = sketchOf(random, run.base, run.burst, run.burstShare);
        const cpuSeconds = (run.seconds * sketch.reduce((total, cores) => total + cores, 0)) / sketch.length;
        traced.push({
          startedAt: new Date(start + (index * 86_400_000) / runsPerDay[shape]),
          durationSeconds: run.seconds,
          sampledSeconds: run.seconds,
          ticks: Math.round(run.seconds),
          cpuP95: sketch[95]!,
          cpuMax: sketch[100]!,
          cpuSeconds,
          peakRssBytes: Math.round(run.peakBytes),
          oomKills: 0,
          // What teams ask by hand: generous, four cores and 4 GiB.
          requests: {
            cpuRequest: 4,
            cpuLimit: null,
            cpuSource: "declared",
            memoryRequest: 4096 * MiB,
            memoryLimit: null,
            memorySource: "declared",
          },
          coresQuantiles: sketch,
          throttledPeriods: null,
          totalPeriods: null,
        });
      }
      tasks.push({ name: `${shape}-${number}`, shape, runs: traced });
    }
  }
  return tasks;
}
