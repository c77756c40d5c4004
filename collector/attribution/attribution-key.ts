/**
 * What an attribution resolver returns (docs/architecture.md "Task key"), and the small parsers resolvers share.
 */

/** A task execution's identity as far as one process tells it. */
export interface Attribution {
  orchestrator: string;
  pipeline: string;
  task: string;
  /** null: not told; the collector makes one from the root process's start. */
  runId: string | null;
  tryNumber: number | null;
  mapIndex: number | null;
  /**
   * Which resolver matched: env, wrapper, airflow-argv, airflow-title, airflow-runner, airflow-worker,
   * airflow-workload, airflow-startup-msg, airflow-log, airflow-ctx-env, prefect-env, kubernetes-pod.
   */
  source: string;
}

/** A whole number above 0, else null. */
export function positiveInt(value: string | undefined | null): number | null {
  if (value === undefined || value === null || !/^\d+$/.test(value.trim())) return null;
  const number = Number(value);
  return number > 0 ? number : null;
}

/** A map index (0 and up); Airflow's -1 ("not mapped") and anything else are null. */
export function mapIndexOf(value: unknown): number | null {
  const number =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : Number.NaN;
  return Number.isInteger(number) && number >= 0 ? number : null;
}
