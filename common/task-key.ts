/**
 * The key that names a task everywhere: the triple `(orchestrator, pipeline, task)` (README "Running it
 * on Airflow and Prefect workers", docs/collector.md "Prefect keys"), and its one text form
 * `orchestrator/pipeline/task` (docs/architecture.md "Task key", docs/reports.md), which reports, `check`, `patch` and the analysis's error
 * lines show and every map of tasks is keyed by.
 *
 * A pipeline may hold slashes (Prefect's `FLOW/DEPLOYMENT`, `/DEPLOYMENT`, `/flow-run/RUN_ID`); an
 * orchestrator (`airflow`, `prefect`, `generic`) holds none, and the task part holds none either: a task
 * label's own `/` (nothing forbids one for `generic` tasks) is written `%2F`, and its `%` is written `%25`
 * so the text stays lossless (RFC 3986 percent-encoding of those two characters only: Airflow task ids and
 * Prefect's `__flow__` never hold them, so their keys read as they always did). The text reads back as: the
 * orchestrator up to the first slash, the task after the last one, the pipeline in between.
 */

/** A task's identity. */
export interface TaskKey {
  orchestrator: string;
  pipeline: string;
  task: string;
}

/** `orchestrator/pipeline/task`, the task part's `%` and `/` percent-encoded. */
export function taskKeyString(key: TaskKey): string {
  return `${key.orchestrator}/${key.pipeline}/${key.task.replace(/%/g, "%25").replace(/\//g, "%2F")}`;
}

/** The key `text` names (slashes split as the module's comment says), or null when it names none. */
export function parseTaskKey(text: string): TaskKey | null {
  const first = text.indexOf("/");
  const last = text.lastIndexOf("/");
  if (first < 0 || last === first) return null;
  return {
    orchestrator: text.slice(0, first),
    pipeline: text.slice(first + 1, last),
    task: decodeTaskPart(text.slice(last + 1)),
  };
}

/** The task part as written, `%2F` and `%25` (either case) decoded; any other `%` is taken as it stands. */
function decodeTaskPart(part: string): string {
  return part.replace(/%(2f|25)/gi, (escape) => (escape === "%25" ? "%" : "/"));
}
