/**
 * `rightsize explain`'s use case: one run of a task against the task's own runs in the window
 * (analyzer/diagnosis.ts), the executions that shared its host while it waited (analyzer/neighbours.ts),
 * and why the task's duration varies (analyzer/inconsistency.ts). Loads through db/queries, computes with
 * the pure functions; which run and which neighbours to look at are pure too ({@link pickRun},
 * {@link waitsBeyondBaseline}).
 */
import { type TaskKey, taskKeyString } from "../common/task-key.js";
import type { Db } from "../db/client.js";
import type { AnalysisWindow } from "../db/queries/analysis.js";
import { summarizeExecutions } from "../db/queries/analysis.js";
import { loadNeighbourSamples, loadRunCommands, loadRunTicks } from "../db/queries/diagnoses.js";
import { type HostSampleRow, loadHostSamples } from "../db/queries/host-samples.js";
import { loadTaskHistory, type RunSummary } from "../db/queries/task-histories.js";
import { diagnoseRun, pickRun, type RunDiagnosis, type RunSelection } from "./diagnosis.js";
import { explainInconsistency, type Inconsistency } from "./inconsistency.js";
import {
  type HostTick,
  type NeighbourRank,
  neighbourSentence,
  rankNeighbours,
  type Suspect,
  untrackedUse,
  type WaitResource,
} from "./neighbours.js";

/** Which run to explain: one by its run id (or execution id), the latest, or the slowest in the window. */

/** Neighbours named per resource at most (the strongest suspects; chosen value). */
const NEIGHBOURS_SHOWN = 5;
/**
 * A wait is beyond its baseline when it grew by this share of the median run's duration, and by one of
 * the run's ticks at least (a tick of jitter: a second at the default interval; chosen values).
 */
const WAIT_GROWTH_SHARE = 0.05;

export interface NeighbourFinding {
  resource: WaitResource;
  /** Seconds more of this wait than in the median run. */
  extraWaitSeconds: number;
  ranks: NeighbourRank[];
  sentences: string[];
}

export interface Explanation {
  task: TaskKey;
  windowStart: string;
  windowEnd: string;
  diagnosis: RunDiagnosis;
  neighbours: NeighbourFinding[];
  inconsistency: Inconsistency;
}

/**
 * The waits (CPU, disk) the run spent beyond its median run, with the extra seconds, largest first.
 * `tickSeconds`: the run's sampling tick (its sampled seconds over its ticks).
 */
export function waitsBeyondBaseline(
  diagnosis: RunDiagnosis,
  tickSeconds: number,
): Array<{ resource: WaitResource; extraSeconds: number }> {
  if (diagnosis.baseline === null) return [];
  const floor = Math.max(tickSeconds, WAIT_GROWTH_SHARE * diagnosis.baseline.durationSeconds);
  const waits: Array<{ resource: WaitResource; extraSeconds: number }> = [];
  for (const [state, resource] of [
    ["cpuWait", "cpu"],
    ["diskWait", "disk"],
  ] as const) {
    const extra = diagnosis.components.find((component) => component.state === state)?.deltaSeconds ?? 0;
    if (extra >= floor) waits.push({ resource, extraSeconds: extra });
  }
  return waits.sort((a, b) => b.extraSeconds - a.extraSeconds);
}

/** A stored host sample as the neighbours' reckoning reads it: its tick, busy cores and disk bytes. */
function hostTickOf(row: HostSampleRow): HostTick {
  const known = row.diskReadBytes !== null || row.diskWriteBytes !== null;
  return {
    endMs: row.ts.getTime(),
    intervalSeconds: row.intervalSeconds,
    cpuBusyCores: row.cpuBusyCores,
    diskBytes: known ? (row.diskReadBytes ?? 0) + (row.diskWriteBytes ?? 0) : null,
  };
}

/** The task's history, its runs without a summary summarized first (as the night's catch-up does). */
async function historyOf(db: Db, key: TaskKey, window: AnalysisWindow) {
  const history = await loadTaskHistory(db, key, window);
  const unsummarized = history.runs.filter((run) => run.ticks === 0).map((run) => run.executionId);
  if (unsummarized.length === 0) return history;
  const summarized = await summarizeExecutions(db, unsummarized);
  return summarized.length === 0 ? history : loadTaskHistory(db, key, window);
}

/**
 * Explains one run of `key`: its diagnosis against the task's other runs in `window`, the neighbours
 * behind any wait beyond its baseline, and the task's variation. Undefined when the task has no finished
 * run in the window, or none the selection names.
 */
export async function explainRun(
  db: Db,
  key: TaskKey,
  selection: RunSelection,
  window: AnalysisWindow,
): Promise<Explanation | undefined> {
  const history = await historyOf(db, key, window);
  const run = pickRun(history.runs, selection);
  if (!run) return undefined;
  const commands = await loadRunCommands(
    db,
    history.runs.map((item) => item.executionId),
  );
  const diagnosis = diagnoseRun(run, history.runs, commands);
  const waits = waitsBeyondBaseline(diagnosis, run.ticks > 0 ? run.sampledSeconds / run.ticks : 1);
  const neighbours: NeighbourFinding[] = [];
  if (waits.length > 0) {
    const span = {
      executionId: run.executionId,
      hostId: run.hostId,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
    };
    const [ticks, executions, host] = await Promise.all([
      loadRunTicks(db, span),
      loadNeighbourSamples(db, span),
      loadHostSamples(db, span.hostId, span.startedAt, span.endedAt),
    ]);
    // One suspect per task key (analyzer/neighbours.ts Suspect): its executions' samples together.
    const suspects = new Map<string, Suspect & { runIds: string[]; executions: number }>();
    for (const execution of executions) {
      const label = taskKeyString(execution);
      let suspect = suspects.get(label);
      if (!suspect) {
        suspect = { label, executionId: null, runId: null, runIds: [], executions: 0, samples: [] };
        suspects.set(label, suspect);
      }
      suspect.executions++;
      if (!suspect.runIds.includes(execution.runId)) {
        suspect.runIds.push(execution.runId);
        suspect.runIds.sort();
      }
      const single = suspect.executions === 1;
      suspect.executionId = single ? execution.executionId : null;
      suspect.runId = single ? execution.runId : null;
      suspect.samples = single ? execution.samples : [...suspect.samples, ...execution.samples];
    }
    const ranked: Suspect[] = [...suspects.values()];
    // Where the collect daemon recorded the host, its use beyond every tracked execution is one more suspect.
    if (host.length > 0)
      ranked.push(untrackedUse(host.map(hostTickOf), [ticks, ...ranked.map((suspect) => suspect.samples)]));
    for (const wait of waits) {
      const ranks = rankNeighbours(ticks, wait.resource, ranked).slice(0, NEIGHBOURS_SHOWN);
      neighbours.push({
        resource: wait.resource,
        extraWaitSeconds: wait.extraSeconds,
        ranks,
        sentences: ranks.map((rank) => neighbourSentence(rank, wait.resource)),
      });
    }
  }
  return {
    task: { orchestrator: key.orchestrator, pipeline: key.pipeline, task: key.task },
    windowStart: window.start.toISOString(),
    windowEnd: window.end.toISOString(),
    diagnosis,
    neighbours,
    inconsistency: explainInconsistency(history.runs),
  };
}
