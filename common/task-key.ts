/**
 * The key that names a task everywhere: the triple `(orchestrator, pipeline, task)` (README "Running it
 * on Airflow and Prefect workers", docs/collector.md "Prefect keys"), and its one text form
 * `orchestrator/pipeline/task` (docs/architecture.md "Task key", docs/reports.md), which reports, `check`, `patch` and the analysis's error
 * lines show and every map of tasks is keyed by.
 *
 * A pipeline may hold slashes (Prefect's `FLOW/DEPLOYMENT`, `/DEPLOYMENT`, `/flow-run/RUN_ID`); an
 * orchestrator (`airflow`, `prefect`, `generic`) holds none. So the text reads back as: the orchestrator up
 * to the first slash, the task after the last one, the pipeline in between. A task label that holds a slash
 * itself (nothing forbids one for `generic` tasks) reads back with that part in the pipeline.
 */

/** A task's identity. */
export interface TaskKey {
  orchestrator: string;
  pipeline: string;
  task: string;
}

/** `orchestrator/pipeline/task`. */
export function taskKeyString(key: TaskKey): string {
  return `${key.orchestrator}/${key.pipeline}/${key.task}`;
}

/** The key `text` names (slashes split as the module's comment says), or null when it names none. */
export function parseTaskKey(text: string): TaskKey | null {
  const first = text.indexOf("/");
  const last = text.lastIndexOf("/");
  if (first < 0 || last === first) return null;
  return {
    orchestrator: text.slice(0, first),
    pipeline: text.slice(first + 1, last),
    task: text.slice(last + 1),
  };
}
