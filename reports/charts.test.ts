/** Timeline and across-run geometry: values land where they should, peaks survive, paths stay small. */
import { describe, expect, it } from "vitest";
import { TIMELINE_BUCKETS } from "../db/queries/timelines.js";
import { syntheticTimeline, syntheticTimelines } from "../test-support/chart-fixtures.js";
import { acrossRunsChart, bandLayers, regressionFlags, seriesPath, timelinesChart } from "./charts.js";
import { buildTask, largeAnalysis } from "../test-support/report-fixtures.js";

const task = buildTask({
  pipeline: "etl",
  task: "load",
  requestCores: 4,
  usedCores: 1,
  requestBytes: 4e9,
  peakBytes: 2e9,
  recommendedCores: 1.5,
  recommendedBytes: 2.5e9,
});
const key = { orchestrator: "airflow", pipeline: "etl", task: "load" };

/** Follows a path's M/V/l/h commands and returns the points it visits. */
function points(d: string): Array<[number, number]> {
  const visited: Array<[number, number]> = [];
  let x = 0;
  let y = 0;
  let command = "";
  const tokens = d.match(/[MVlhZ]|-?\d+(\.\d+)?/g) ?? [];
  for (let index = 0; index < tokens.length;) {
    const token = tokens[index]!;
    if (/[MVlhZ]/.test(token)) {
      command = token;
      index++;
      if (command === "Z") continue;
    }
    const next = () => Number(tokens[index++]);
    if (command === "M") [x, y] = [next(), next()];
    else if (command === "V") y = next();
    else if (command === "h") x += next();
    else if (command === "l") {
      x += next();
      y += next();
    }
    visited.push([x, y]);
  }
  return visited;
}

describe("seriesPath", () => {
  it("visits every value, merges collinear steps and closes an area at its base", () => {
    const d = seriesPath([30, 30, 30, 10, null, 20], 40, true);
    expect(d).toBe("M0 40V30l2 0 1-20 1 30 1-20 1 0V40Z");
    expect(points(d)).toEqual([
      [0, 40],
      [0, 30],
      [2, 30],
      [3, 10],
      [4, 40],
      [5, 20],
      [6, 20],
      [6, 40],
    ]);
  });

  it("breaks a line at a gap", () => {
    expect(seriesPath([5, 6, null, 7], 40, false)).toBe("M0 5l1 1M3 7l1 0");
  });
});

describe("timelinesChart", () => {
  it("keeps a one-bucket peak at its height and draws request and recommendation on one scale", () => {
    const timeline = syntheticTimeline(key, {
      durationSeconds: 36_000,
      peakCores: 3,
      peakBytes: 2e9,
      latest: true,
      worst: true,
    });
    const view = timelinesChart([timeline], task)!;
    expect(view.blocks).toHaveLength(1);
    expect(view.blocks[0]!.tag).toBe("latest = worst");
    // Axis top: the request (4 cores) with 10 % head-room.
    expect(view.cpuTopText).toBe("4.4 cores");
    const cpu = points(view.blocks[0]!.cpuMax);
    const highest = Math.min(...cpu.map(([, y]) => y));
    expect(highest).toBe(40 - Math.round((3 / 4.4) * 40));
    const request = view.lines.find((line) => line.kind === "request")!;
    expect(request.d.startsWith(`M0 ${40 - Math.round((4 / 4.4) * 40)}H480`)).toBe(true);
    expect(view.blocks[0]!.scaleX * TIMELINE_BUCKETS).toBeCloseTo(480, 0);
  });

  it("stacks the latest and the worst run on the same scales, with where the time went", () => {
    const [latest, worst] = syntheticTimelines({ ...largeAnalysis(1), tasks: [task] }).get(
      "airflow/etl/load",
    )!;
    const view = timelinesChart([latest!, worst!], task)!;
    expect(view.blocks.map((block) => block.tag)).toEqual(["latest", "worst"]);
    expect(view.blocks[1]!.y).toBeGreaterThan(view.height / 2 - 20);
    expect(view.blocks[0]!.shares[0]!.label).toBe("on a CPU");
    expect(view.blocks[0]!.shares.length).toBeLessThanOrEqual(3);
    // The 10-hour run's steps are 15 minutes.
    expect(view.blocks[1]!.bucketText).toBe("15m 00s");
    // Both runs have 40 steps: one group, one path per kind holding both blocks.
    expect(view.groups).toHaveLength(1);
    expect(view.groups[0]!.cpuMax).toBe(view.blocks[0]!.cpuMax + view.blocks[1]!.cpuMax);
    const kinds = view.groups[0]!.band.map((layer) => layer.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const layer of view.groups[0]!.band) {
      const perBlock = view.blocks.flatMap((block) => block.band.filter((own) => own.kind === layer.kind));
      expect(layer.d).toBe(perBlock.map((own) => own.d).join(""));
    }
  });

  it("keeps blocks of different step widths apart", () => {
    const short = syntheticTimeline(key, {
      durationSeconds: 20,
      peakCores: 1,
      peakBytes: 1e9,
      latest: true,
      worst: false,
    });
    const long = syntheticTimeline(key, {
      durationSeconds: 3600,
      peakCores: 2,
      peakBytes: 2e9,
      latest: false,
      worst: true,
    });
    const view = timelinesChart([short, long], task)!;
    expect(view.groups.map((group) => group.scaleX)).toEqual([24, 12]);
    expect(view.groups[1]!.cpuMax).toBe(view.blocks[1]!.cpuMax);
  });

  it("zooms a panel to the run and the recommendation when the request dwarfs them, and names the request", () => {
    const small = buildTask({
      pipeline: "etl",
      task: "small",
      requestCores: 4,
      usedCores: 0.1,
      requestBytes: 2 * 2 ** 30,
      peakBytes: 50 * 2 ** 20,
      recommendedCores: 0.2,
      recommendedBytes: 128 * 2 ** 20,
    });
    const timeline = syntheticTimeline(key, {
      durationSeconds: 60,
      peakCores: 0.1,
      peakBytes: 50 * 2 ** 20,
      latest: true,
      worst: true,
    });
    const view = timelinesChart([timeline], small)!;
    expect(view.cpuTopText).toBe("0.22 cores");
    expect(view.cpuAboveText).toBe("request 4 cores");
    expect(view.memoryTopText).toBe("141 MiB");
    expect(view.memoryAboveText).toBe("request 2 GiB");
    // The request is off the scale: no line for it; the recommendation sits at 1/1.1 of the panel.
    expect(view.lines.map((line) => line.kind)).toEqual(["recommendation"]);
    expect(view.lines[0]!.d.startsWith(`M0 ${40 - Math.round(40 / 1.1)}H480`)).toBe(true);
    // The run's peak fills most of the panel instead of a 1 px sliver.
    const highest = Math.min(...points(view.blocks[0]!.cpuMax).map(([, y]) => y));
    expect(highest).toBeLessThanOrEqual(40 - 15);
    // A request within four times the use stays on the scale.
    expect(
      timelinesChart([timeline], { ...small, cpu: { ...small.cpu, requestCores: 0.8 } })!.cpuAboveText,
    ).toBeNull();
  });

  it("says when the split comes from thread-time", () => {
    const timeline = syntheticTimeline(key, {
      durationSeconds: 60,
      peakCores: 1,
      peakBytes: 1e9,
      latest: true,
      worst: false,
      threadTimeOnly: true,
    });
    expect(timelinesChart([timeline], task)!.blocks[0]!.estimated).toBe(true);
    expect(timelinesChart([], task)).toBeNull();
    // One tick of the run's 60 s without the wall-clock columns (its exit tick) does not make it estimated.
    const exitTick = { ...timeline, threadTimeTicks: 1 };
    expect(timelinesChart([exitTick], task)!.blocks[0]!.estimated).toBe(false);
  });
});

describe("bandLayers", () => {
  it("colours each step by its largest state and merges neighbours", () => {
    const bucket = (cpu: number, disk: number) => ({
      index: 0,
      ticks: 1,
      seconds: 1,
      cpuMin: null,
      cpuMax: null,
      cpuMean: null,
      rssMax: null,
      states: { cpu, cpuWait: 0, diskWait: disk, networkWait: 0, childWait: 0, idle: 0 },
    });
    const layers = bandLayers([bucket(0.2, 0.8), bucket(0.9, 0.1), bucket(0.7, 0.3), null, bucket(0, 1)], 98);
    expect(layers).toEqual([
      { kind: "cpu", d: "M1 98h2" },
      // The second run moves on from the end of the first: from x = 1 to x = 4.
      { kind: "diskWait", d: "M0 98h1m3 0h1" },
    ]);
  });
});

describe("regressionFlags", () => {
  it("flags runs above median + 2.5 scaled MADs and 30 % above the median", () => {
    expect(regressionFlags([100, 102, 98, 101, 99, 160])).toEqual([false, false, false, false, false, true]);
    // Identical runs: a MAD of 0 must not flag a run a second longer.
    expect(regressionFlags([100, 100, 100, 100, 101])).toEqual([false, false, false, false, false]);
    // Too few runs to say.
    expect(regressionFlags([1, 1, 9])).toEqual([false, false, false]);
  });

  it("marks them in the across-runs chart", () => {
    const runs = task.recentRuns!.map((run, index) =>
      index === 10 ? { ...run, durationSeconds: run.durationSeconds * 3 } : run,
    );
    const view = acrossRunsChart({ ...task, recentRuns: runs })!;
    expect(view.rows.map((row) => row.label)).toEqual(["duration", "peak memory", "CPU p95"]);
    expect(view.rows[0]!.marks).toHaveLength(1);
    expect(view.regressions).toBe(1);
  });
});
