/**
 * What else the host was doing while a run waited: the other task executions on the same host that
 * overlapped it, ranked by how their use lines up with the run's waiting over time. Pure: it reads the
 * run's ticks and each suspect's samples (db/queries/diagnoses.ts) and returns the ranking.
 *
 * The method is CPI2's antagonist identification (Zhang et al., "CPI2: CPU performance isolation for
 * shared compute clusters", EuroSys 2013, §4: the correlation between a victim's slowdown and each
 * co-located task's CPU use over the same ticks): here the victim's slowdown is its wall-clock share of
 * each tick spent waiting for a CPU (against the suspects' cores) or blocked on disk (against the
 * suspects' disk bytes per second). A suspect is any series of usage over time: another task's
 * executions, and, where the `collect` daemon recorded the host (db/schema.ts hostSamples), the host's own
 * use beyond every tracked execution ({@link untrackedUse}).
 */
import { formatBytes, formatDuration } from "../common/units.js";
import { correlationOrNull, correlationStrength, type EvidenceStrength } from "./statistics.js";

/** One tick of the waiting run: it ends at `endMs` and lasted `intervalSeconds`. */
export interface VictimTick {
  endMs: number;
  intervalSeconds: number;
  /** Wall seconds of the tick spent waiting for a CPU. */
  cpuWaitSeconds: number;
  /** Wall seconds of the tick spent blocked on disk. */
  diskWaitSeconds: number;
}

/** One sample of a suspect: what it used over the tick that ended at `endMs`. */
export interface UsageSample {
  endMs: number;
  intervalSeconds: number;
  cpuCores: number | null;
  /** Bytes read plus written during the tick. */
  diskBytes: number | null;
}

/**
 * A suspect: the executions of one task on the same host, or the host's untracked use ({@link untrackedUse}). One task's
 * executions are one suspect: three copies of a hog each take a third of what they take together, and it
 * is the task that a reader can act on.
 */
export interface Suspect {
  /** The task key's text (`orchestrator/pipeline/task`), or a label such as `untracked processes`. */
  label: string;
  /** The execution, when the suspect is one. */
  executionId: string | null;
  /** The run, when the suspect is one execution. */
  runId: string | null;
  /** Every run the suspect's samples belong to (its executions' run ids, each once). */
  runIds?: string[];
  samples: UsageSample[];
}

export type WaitResource = "cpu" | "disk";

/** Ticks of overlap below which a correlation is not read (chosen value: ten seconds at the default tick). */
export const MIN_OVERLAP_TICKS = 10;

export interface NeighbourRank {
  label: string;
  executionId: string | null;
  runId: string | null;
  runIds?: string[];
  /** Seconds of the run's ticks during which the suspect had samples. */
  overlapSeconds: number;
  /** The run's ticks the suspect overlapped. */
  overlapTicks: number;
  /** CPU seconds the suspect used within the run's ticks. */
  cpuSeconds: number;
  /** Disk bytes (read + written) the suspect moved within the run's ticks. */
  diskBytes: number;
  /**
   * Pearson's r between the run's waiting share and the suspect's use (cores, or disk bytes per second),
   * over the run's ticks the suspect overlapped; null when it cannot be computed.
   */
  correlation: number | null;
  strength: EvidenceStrength;
}

/** The suspect's use within each victim tick: CPU seconds, disk bytes and covered seconds (pure). */
export function usageWithinTicks(
  ticks: ReadonlyArray<Pick<VictimTick, "endMs" | "intervalSeconds">>,
  samples: ReadonlyArray<UsageSample>,
): Array<{ cpuSeconds: number; diskBytes: number; coveredSeconds: number }> {
  const sorted = [...samples].sort((a, b) => a.endMs - b.endMs);
  const usage = ticks.map(() => ({ cpuSeconds: 0, diskBytes: 0, coveredSeconds: 0 }));
  let first = 0;
  ticks.forEach((tick, index) => {
    const tickStart = tick.endMs - tick.intervalSeconds * 1000;
    // Samples that ended before this tick began cannot overlap it or any later tick (ticks are in order).
    while (first < sorted.length && sorted[first]!.endMs <= tickStart) first++;
    for (let at = first; at < sorted.length; at++) {
      const sample = sorted[at]!;
      const sampleStart = sample.endMs - sample.intervalSeconds * 1000;
      if (sampleStart >= tick.endMs) break;
      const overlap = (Math.min(sample.endMs, tick.endMs) - Math.max(sampleStart, tickStart)) / 1000;
      if (overlap <= 0 || sample.intervalSeconds <= 0) continue;
      const share = overlap / sample.intervalSeconds;
      usage[index]!.coveredSeconds += overlap;
      usage[index]!.cpuSeconds += (sample.cpuCores ?? 0) * overlap;
      usage[index]!.diskBytes += (sample.diskBytes ?? 0) * share;
    }
  });
  return usage;
}

/**
 * The strength a correlation over `ticks` ticks carries: none below {@link MIN_OVERLAP_TICKS} ticks, and
 * none when the suspect's use falls as the run waits more (it is no cause of the waiting).
 */
export function strengthOf(correlation: number | null, ticks: number): EvidenceStrength {
  if (correlation === null || ticks < MIN_OVERLAP_TICKS || correlation <= 0) return "none";
  return correlationStrength(correlation);
}

const strengthOrder: Record<EvidenceStrength, number> = { strong: 3, moderate: 2, weak: 1, none: 0 };

/**
 * The suspects ranked for `resource`: by the strength of the evidence that their use lines up with the
 * run's waiting (the correlation over the run's ticks they overlapped), then, among suspects with evidence,
 * by the correlation, and last by how much they used within the run's ticks. Where no correlation is
 * evidence (a host so busy that the run waited whatever a neighbour did), the one that used most while the
 * run waited comes first, not the one whose noise happened to line up best. Suspects that never overlapped
 * the run are left out. Ticks must be in time order.
 */
export function rankNeighbours(
  ticks: ReadonlyArray<VictimTick>,
  resource: WaitResource,
  suspects: ReadonlyArray<Suspect>,
): NeighbourRank[] {
  const waiting = ticks.map((tick) =>
    tick.intervalSeconds > 0
      ? (resource === "cpu" ? tick.cpuWaitSeconds : tick.diskWaitSeconds) / tick.intervalSeconds
      : 0,
  );
  const ranks: NeighbourRank[] = [];
  for (const suspect of suspects) {
    const usage = usageWithinTicks(ticks, suspect.samples);
    const overlapping = usage.flatMap((use, index) => (use.coveredSeconds > 0 ? [index] : []));
    if (overlapping.length === 0) continue;
    const waits = overlapping.map((index) => waiting[index]!);
    const uses = overlapping.map((index) => {
      const use = usage[index]!;
      const seconds = ticks[index]!.intervalSeconds || 1;
      return resource === "cpu" ? use.cpuSeconds / seconds : use.diskBytes / seconds;
    });
    const correlation = correlationOrNull(waits, uses);
    ranks.push({
      label: suspect.label,
      executionId: suspect.executionId,
      runId: suspect.runId,
      ...(suspect.runIds ? { runIds: suspect.runIds } : {}),
      overlapSeconds: usage.reduce((sum, use) => sum + use.coveredSeconds, 0),
      overlapTicks: overlapping.length,
      cpuSeconds: usage.reduce((sum, use) => sum + use.cpuSeconds, 0),
      diskBytes: usage.reduce((sum, use) => sum + use.diskBytes, 0),
      correlation,
      strength: strengthOf(correlation, overlapping.length),
    });
  }
  const used = (rank: NeighbourRank) => (resource === "cpu" ? rank.cpuSeconds : rank.diskBytes);
  const evidence = (rank: NeighbourRank) => (rank.strength === "none" ? -2 : rank.correlation!);
  return ranks.sort(
    (a, b) =>
      strengthOrder[b.strength] - strengthOrder[a.strength] ||
      evidence(b) - evidence(a) ||
      used(b) - used(a) ||
      a.label.localeCompare(b.label),
  );
}

/** One sentence for a ranked neighbour, with its numbers: what it used over the overlap and how it lined up. */
export function neighbourSentence(rank: NeighbourRank, resource: WaitResource): string {
  const runIds =
    rank.runIds && rank.runIds.length > 0 ? rank.runIds : rank.runId === null ? [] : [rank.runId];
  const run = runIds.length === 0 ? "" : ` (run${runIds.length > 1 ? "s" : ""} ${runIds.join(", ")})`;
  const cores =
    rank.overlapSeconds > 0
      ? ` (${(rank.cpuSeconds / rank.overlapSeconds).toFixed(1)} cores on average)`
      : "";
  const use = `${formatDuration(rank.cpuSeconds)} of CPU${cores} and ${formatBytes(rank.diskBytes)} of disk`;
  const what = resource === "cpu" ? "CPU use" : "disk use";
  const waited = resource === "cpu" ? "waiting for a CPU" : "disk wait";
  const evidence =
    rank.correlation === null
      ? `no correlation can be computed over ${rank.overlapTicks} ticks (the waiting or the use never varied)`
      : `its ${what} against this run's ${waited}: r = ${rank.correlation.toFixed(2)} over ${rank.overlapTicks} ticks, ${rank.strength === "none" ? "no" : rank.strength} evidence`;
  return `${rank.label}${run} overlapped ${formatDuration(rank.overlapSeconds)} on the same host, using ${use}; ${evidence}.`;
}

/** The label of the host's use beyond its tracked task executions, as a suspect. */
export const UNTRACKED_LABEL = "untracked processes";

/** One tick of the whole host (db/schema.ts hostSamples): its busy cores and disk bytes. */
export interface HostTick {
  endMs: number;
  intervalSeconds: number;
  cpuBusyCores: number | null;
  /** Bytes the host's whole disks read plus wrote during the tick. */
  diskBytes: number | null;
}

/**
 * The host's use beyond its tracked task executions, tick by tick, as one more suspect: each host tick's
 * busy cores and disk bytes less what every tracked execution (the run itself and each neighbour) used
 * within it, never below zero. Unknown (null) where the host tick is. A task's disk bytes count when
 * its pages are dirtied and the disks' when written back, so over a short tick the difference may swing
 * either way; over the run it holds.
 */
export function untrackedUse(
  host: ReadonlyArray<HostTick>,
  tracked: ReadonlyArray<ReadonlyArray<UsageSample>>,
): Suspect {
  const ticks = [...host].sort((a, b) => a.endMs - b.endMs);
  const cpuSeconds = ticks.map(() => 0);
  const diskBytes = ticks.map(() => 0);
  for (const samples of tracked) {
    usageWithinTicks(ticks, samples).forEach((use, index) => {
      cpuSeconds[index]! += use.cpuSeconds;
      diskBytes[index]! += use.diskBytes;
    });
  }
  return {
    label: UNTRACKED_LABEL,
    executionId: null,
    runId: null,
    samples: ticks.map((tick, index) => ({
      endMs: tick.endMs,
      intervalSeconds: tick.intervalSeconds,
      cpuCores:
        tick.cpuBusyCores === null || tick.intervalSeconds <= 0
          ? null
          : Math.max(0, tick.cpuBusyCores - cpuSeconds[index]! / tick.intervalSeconds),
      diskBytes: tick.diskBytes === null ? null : Math.max(0, tick.diskBytes - diskBytes[index]!),
    })),
  };
}
