import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { taskAnalysisSchema } from "../common/analysis-document.js";
import { GiB } from "../common/units.js";
import type { RunSummary, StateSeconds } from "../db/queries/task-histories.js";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";
import { taskDiagnosisOf } from "./task-diagnosis.js";
import { DIAGNOSIS_MIN_RUNS, diagnoseRun, mainCauseText, pickRun } from "./diagnosis.js";
import { decomposeDuration, timeBudgetOf } from "./time-budget.js";

/** A wall split whose states add up to `seconds`: mostly on a CPU, the rest as given. */
function wall(seconds: number, parts: Partial<StateSeconds> = {}): StateSeconds {
  const rest =
    (parts.cpuWaitSeconds ?? 0) +
    (parts.diskWaitSeconds ?? 0) +
    (parts.netWaitSeconds ?? 0) +
    (parts.childWaitSeconds ?? 0) +
    (parts.idleSeconds ?? 0);
  return {
    onCpuSeconds: seconds - rest,
    cpuWaitSeconds: 0,
    diskWaitSeconds: 0,
    netWaitSeconds: 0,
    childWaitSeconds: 0,
    idleSeconds: 0,
    ...parts,
  };
}

/** Ten usual runs of 600 s, 60 s of it on disk, and one run as `slow` says. */
function history(slow: Partial<RunSummary>): { runs: RunSummary[]; slow: RunSummary } {
  const runs = syntheticRuns(10, (index) => ({
    durationSeconds: 600 + index,
    sampledSeconds: 600 + index,
    wall: wall(600 + index, { diskWaitSeconds: 60 }),
    diskReadBytes: GiB,
  }));
  const duration = slow.durationSeconds ?? 600;
  const run = syntheticRun({ sampledSeconds: duration, ...slow }, 20);
  return { runs, slow: run };
}

describe("diagnoseRun", () => {
  it("names the state that took the difference, with its seconds", () => {
    const { runs, slow } = history({
      durationSeconds: 2280,
      wall: wall(2280, { diskWaitSeconds: 60 + 1440, cpuWaitSeconds: 180 }),
      diskReadBytes: 3 * GiB,
    });
    const diagnosis = diagnoseRun(slow, runs);
    expect(diagnosis.verdict).toBe("slower");
    expect(diagnosis.baseline?.durationSeconds).toBe(604);
    expect(diagnosis.deltaSeconds).toBe(1676);
    expect(diagnosis.mainCause).toBe("diskWait");
    // Three times the bytes at the usual 60 s per GiB would have waited 180 s: 120 s of the 1440 s are the
    // work's (with its 56 s more on a CPU), the rest is the disk's.
    expect(mainCauseText(diagnosis)).toBe("+22m 00s blocked on disk");
    expect(diagnosis.causes.map((cause) => [cause.cause, cause.seconds])).toEqual([
      ["diskWait", 1320],
      ["cpuWait", 180],
      ["work", 176],
    ]);
    expect(diagnosis.sentences[0]).toMatch(/^\+27m 56s against the median run \(10m 04s, run run-4\)/);
    expect(diagnosis.sentences[1]).toBe(
      "Where the difference went: +24m 00s blocked on disk, +3m 00s waiting for a CPU.",
    );
    expect(diagnosis.sentences).toContain("3 GiB read against a median of 1 GiB read (3×).");
  });

  it("three times the input at the usual pace is more work, not waiting", () => {
    // The usual runs wait for a CPU 30 s per 100 s on a CPU (a busy host); this one does three times the
    // work on the same host and waits in proportion.
    const runs = syntheticRuns(10, (index) => ({
      durationSeconds: 200 + index,
      sampledSeconds: 200 + index,
      wall: wall(200 + index, { cpuWaitSeconds: 40 + index * 0.3, diskWaitSeconds: 20 }),
      diskReadBytes: GiB,
      cpuSeconds: 140,
    }));
    const slow = syntheticRun(
      {
        durationSeconds: 600,
        sampledSeconds: 600,
        wall: wall(600, { cpuWaitSeconds: 120, diskWaitSeconds: 60 }),
        diskReadBytes: 3 * GiB,
        cpuSeconds: 420,
      },
      20,
    );
    const diagnosis = diagnoseRun(slow, runs);
    expect(diagnosis.verdict).toBe("slower");
    // The plain split still says where the time went: most of it on a CPU, some waiting for one.
    expect(diagnosis.components[0]!.state).toBe("cpu");
    expect(diagnosis.mainCause).toBe("work");
    expect(diagnosis.causes.map((cause) => cause.cause)).toEqual(["work"]);
    expect(mainCauseText(diagnosis)).toBe("+6m 36s more work at the usual pace");
    expect(diagnosis.sentences).toContain(
      "Main cause: +6m 36s more work at the usual pace (CPU 3×, read 3×): its waits grew no faster than its work, which points at its input or its code, not at what else ran.",
    );
  });

  it("the same work waiting longer for a CPU is contention", () => {
    const runs = syntheticRuns(10, (index) => ({
      durationSeconds: 200 + index,
      sampledSeconds: 200 + index,
      wall: wall(200 + index, { cpuWaitSeconds: 20 }),
      cpuSeconds: 180,
    }));
    const slow = syntheticRun(
      {
        durationSeconds: 600,
        sampledSeconds: 600,
        wall: wall(600, { cpuWaitSeconds: 410 }),
        cpuSeconds: 190,
      },
      20,
    );
    const diagnosis = diagnoseRun(slow, runs);
    expect(diagnosis.mainCause).toBe("cpuWait");
    // 190 s on a CPU against 184: at the usual 20 s per 184 s, 0.65 s of the extra wait is the work's.
    expect(diagnosis.causes[0]!.seconds).toBeCloseTo(390 - (20 * 190) / 184 + 20, 6);
    expect(diagnosis.sentences).toContain("Main cause: +6m 29s waiting for a CPU beyond its usual pace.");
  });

  it("splits the network wait by remote endpoint", () => {
    const { runs, slow } = history({ durationSeconds: 1200, wall: wall(1200, { netWaitSeconds: 600 }) });
    const withEndpoints = runs.map((run) => ({
      ...run,
      netWaitSeconds: 10,
      wall: wall(run.durationSeconds, { netWaitSeconds: 10 }),
      endpoints: [{ endpoint: "db.internal:5432", waitSeconds: 10 }],
    }));
    const slowRun = {
      ...slow,
      netWaitSeconds: 600,
      endpoints: [
        { endpoint: "db.internal:5432", waitSeconds: 60 },
        { endpoint: "s3.amazonaws.com:443", waitSeconds: 540 },
      ],
    };
    const diagnosis = diagnoseRun(slowRun, withEndpoints);
    expect(diagnosis.mainCause).toBe("networkWait");
    expect(diagnosis.sentences).toContain("Main cause: +9m 00s waiting on s3.amazonaws.com:443.");
    expect(diagnosis.mainEndpoint).toBe("s3.amazonaws.com:443");
    expect(mainCauseText(diagnosis)).toBe("+9m 00s waiting on s3.amazonaws.com:443");
  });

  it("'not enough comparable runs' is an answer", () => {
    const runs = syntheticRuns(DIAGNOSIS_MIN_RUNS - 1);
    const diagnosis = diagnoseRun(syntheticRun({ durationSeconds: 5000 }, 30), runs);
    expect(diagnosis.verdict).toBe("not-enough-runs");
    expect(diagnosis.mainCause).toBeNull();
    expect(diagnosis.sentences).toEqual([
      "Not enough comparable runs: 4 other sampled runs in the window, 5 needed; this run took 1h 23m.",
    ]);
  });

  it("leaves the run itself and unsampled runs out of its baseline", () => {
    const runs = syntheticRuns(6, (index) => (index === 0 ? { ticks: 0 } : {}));
    const target = runs[1]!;
    expect(diagnoseRun(target, runs).comparableRuns).toBe(4);
  });

  it("a usual run is usual, and what the samples did not cover is named", () => {
    const { runs } = history({});
    const run = syntheticRun({ durationSeconds: 700, sampledSeconds: 640, wall: wall(640) }, 21);
    const diagnosis = diagnoseRun(run, runs);
    expect(diagnosis.verdict).toBe("usual");
    expect(diagnosis.mainCause).toBeNull();
    expect(diagnosis.components.find((item) => item.state === "unsampled")?.deltaSeconds).toBe(60);
  });

  it("names a new command and one that ran far more often", () => {
    const { runs, slow } = history({ durationSeconds: 2000, wall: wall(2000) });
    const commands = new Map(
      runs.map((run) => [run.executionId, [{ command: "gzip", count: 10, cpuSeconds: 20, peakRssBytes: 0 }]]),
    );
    commands.set(slow.executionId, [
      { command: "gzip", count: 100, cpuSeconds: 200, peakRssBytes: 0 },
      { command: "curl\n::error::x", count: 1, cpuSeconds: 1, peakRssBytes: 0 },
    ]);
    const diagnosis = diagnoseRun(slow, runs, commands);
    expect(diagnosis.sentences).toContain(
      "gzip ran 100 times against a median of 10 (10×), 3m 20s of CPU against 20 s.",
    );
    expect(diagnosis.commands.find((item) => item.isNew)?.command).toBe("curl\n::error::x");
  });

  it("memory against the baseline and the limit, OOM kills and throttling", () => {
    const { runs, slow } = history({
      peakRssBytes: 2 * GiB,
      limitMemoryBytes: 4 * GiB,
      oomKills: 1,
      throttledPeriods: 50,
      totalPeriods: 100,
    });
    const sentences = diagnoseRun(slow, runs).sentences;
    expect(sentences).toContain(
      "Memory peak 2 GiB against a median of 400 MiB (5.1×); limit 4 GiB (50 % used).",
    );
    expect(sentences).toContain("1 OOM kill in this run.");
    expect(sentences).toContain("CPU throttled in 50 % of its CFS periods.");
  });
});

const stateSeconds = fc.double({ min: 0, max: 1e5, noNaN: true });
const arbitraryRun = fc
  .record({
    duration: fc.double({ min: 1, max: 1e5, noNaN: true }),
    sampledShare: fc.double({ min: 0, max: 1.2, noNaN: true }),
    parts: fc.array(stateSeconds, { minLength: 6, maxLength: 6 }),
    hasWall: fc.boolean(),
    netThread: stateSeconds,
    endpoints: fc.array(
      fc.record({ endpoint: fc.constantFrom("a:1", "b:2", "c:3", ""), waitSeconds: stateSeconds }),
      { maxLength: 3 },
    ),
  })
  .map(({ duration, sampledShare, parts, hasWall, netThread, endpoints }) => {
    const total = parts.reduce((sum, part) => sum + part, 0) || 1;
    const sampled = duration * sampledShare;
    const scaled = parts.map((part) => (part / total) * sampled);
    const split: StateSeconds = {
      onCpuSeconds: scaled[0]!,
      cpuWaitSeconds: scaled[1]!,
      diskWaitSeconds: scaled[2]!,
      netWaitSeconds: scaled[3]!,
      childWaitSeconds: scaled[4]!,
      idleSeconds: scaled[5]!,
    };
    return syntheticRun({
      durationSeconds: duration,
      sampledSeconds: sampled,
      wall: hasWall ? split : null,
      ...(hasWall ? { netWaitSeconds: netThread } : split),
      endpoints,
    });
  });

describe("decomposeDuration (properties)", () => {
  it("a run's time budget adds up to its duration", () => {
    fc.assert(
      fc.property(arbitraryRun, (run) => {
        const total = [...timeBudgetOf(run).values()].reduce((sum, seconds) => sum + seconds, 0);
        expect(total).toBeCloseTo(run.durationSeconds, 6);
      }),
    );
  });

  it("the components add up to the duration difference", () => {
    fc.assert(
      fc.property(arbitraryRun, arbitraryRun, (run, baseline) => {
        const components = decomposeDuration(run, baseline);
        const total = components.reduce((sum, component) => sum + component.deltaSeconds, 0);
        expect(total).toBeCloseTo(run.durationSeconds - baseline.durationSeconds, 6);
        for (const component of components)
          expect(component.deltaSeconds).toBeCloseTo(component.runSeconds - component.baselineSeconds, 9);
      }),
    );
  });

  it("the main cause of a slower run is its largest positive cause, and the causes hold no more than grew", () => {
    fc.assert(
      fc.property(arbitraryRun, fc.array(arbitraryRun, { minLength: 5, maxLength: 12 }), (run, others) => {
        const diagnosis = diagnoseRun(
          run,
          others.map((other, index) => ({ ...other, executionId: `other-${index}` })),
        );
        if (diagnosis.verdict !== "slower") expect(diagnosis.causes).toEqual([]);
        if (diagnosis.mainCause === null) return;
        expect(diagnosis.verdict).toBe("slower");
        const main = diagnosis.causes[0]!;
        expect(main.cause).toBe(diagnosis.mainCause);
        expect(main.seconds).toBeGreaterThan(0);
        expect(main.seconds).toBe(Math.max(...diagnosis.causes.map((cause) => cause.seconds)));
        // Every cause is carved out of components that grew: together they never exceed them.
        const grown = diagnosis.components.reduce((sum, item) => sum + Math.max(0, item.deltaSeconds), 0);
        const blamed = diagnosis.causes.reduce((sum, cause) => sum + cause.seconds, 0);
        expect(blamed).toBeLessThanOrEqual(grown * (1 + 1e-9) + 1e-9);
        // A wait named as the cause went beyond the run's usual pace: its component grew at least as much.
        if (main.cause !== "work") {
          const component = diagnosis.components.find(
            (item) => item.state === main.cause && (item.endpoint ?? null) === (main.endpoint ?? null),
          )!;
          expect(component.deltaSeconds).toBeGreaterThanOrEqual(main.seconds - 1e-9);
        }
      }),
    );
  });
});

describe("taskDiagnosisOf", () => {
  it("diagnoses the latest and the slowest run for the analysis document, valid against its contract", () => {
    const { runs } = history({});
    const slow = syntheticRun(
      { durationSeconds: 2400, sampledSeconds: 2400, wall: wall(2400, { diskWaitSeconds: 1800 }) },
      15,
    );
    const latest = syntheticRun({ durationSeconds: 605, sampledSeconds: 605, wall: wall(605) }, 16);
    const diagnosis = taskDiagnosisOf([...runs, slow, latest])!;
    expect(taskAnalysisSchema.shape.diagnosis.parse(diagnosis)).toEqual(diagnosis);
    expect(diagnosis.latest.runId).toBe("run-16");
    expect(diagnosis.latest.verdict).toBe("usual");
    expect(diagnosis.worst?.runId).toBe("run-15");
    expect(diagnosis.worst?.mainCauseText).toBe("+29m 00s blocked on disk");
    expect(taskDiagnosisOf([latest])!.worst).toBeUndefined();
    expect(taskDiagnosisOf([])).toBeUndefined();
  });
});

describe("pickRun", () => {
  // Two runs started together (index 1 twice): the smaller execution id counts as the later one.
  const twin = (id: string, seconds: number) => ({
    ...syntheticRun({ durationSeconds: seconds, runId: `twin-${id}` }, 1),
    executionId: `00000000-0000-4000-8000-00000000000${id}`,
  });
  const runs = [
    syntheticRun({ durationSeconds: 900 }, 0),
    twin("b", 900),
    twin("a", 300),
    {
      ...syntheticRun({ durationSeconds: 100, runId: "twin-a" }, 0),
      executionId: "00000000-0000-4000-8000-0000000000ff",
    },
  ];

  it("takes the latest, the slowest and a named run in any order, ties by start then execution id", () => {
    for (const order of [runs, [...runs].reverse()]) {
      expect(pickRun(order, { latest: true })?.runId).toBe("twin-a");
      expect(pickRun(order, { latest: true })?.durationSeconds).toBe(300);
      // 900 s twice: the later of the two (started a day after the other).
      expect(pickRun(order, { slowest: true })?.runId).toBe("twin-b");
      // A run id two runs share: the later one; an execution id names its run.
      expect(pickRun(order, { runId: "twin-a" })?.durationSeconds).toBe(300);
      expect(pickRun(order, { runId: runs[0]!.executionId })).toBe(runs[0]);
      expect(pickRun(order, { runId: "nowhere" })).toBeUndefined();
    }
    expect(pickRun([], { latest: true })).toBeUndefined();
  });
});
