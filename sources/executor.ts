/**
 * The Airflow executor as a fact of the repository: which executor runs its tasks decides which task
 * parameters reach a task at all (sources/effective.ts). Pure: the scan's executor settings in, one
 * executor or none out.
 *
 * Where it is set (apache/airflow docs/apache-airflow/howto/set-config.rst, "The universal order of
 * precedence": an environment variable wins over airflow.cfg, which wins over the built-in default):
 * `[core] executor` in an airflow.cfg; `AIRFLOW__CORE__EXECUTOR` in a `.env` or a docker-compose service;
 * and for the Helm chart its `executor` value or an `AIRFLOW__CORE__EXECUTOR` entry of its `env`
 * (sources/helm-values.ts `helmExecutor`).
 */
import type { ExecutorSetting, ScanResult } from "./findings.js";

/** The executor the repository's deployment runs, and where that is written. */
export interface DeploymentExecutor {
  /** As written (`CeleryExecutor`, a module path, or a comma-separated list). */
  executor: string;
  /** `file:line` of every setting that names it. */
  where: string;
}

/**
 * The one executor the repository names: environment settings (`.env`, docker-compose, the Helm chart)
 * win over airflow.cfg; when what is left names two different executors (a compose file for local runs
 * beside a chart for production) none is taken, since which deployment ran the task cannot be told.
 */
export function deploymentExecutor(scan: Pick<ScanResult, "executors">): DeploymentExecutor | null {
  const settings = scan.executors ?? [];
  const deployed = settings.filter((setting) => setting.from !== "airflow.cfg");
  const winning = deployed.length > 0 ? deployed : settings;
  const names = new Set(winning.map((setting) => executorNames(setting.executor).join(",")));
  if (names.size !== 1) return null;
  return {
    executor: winning[0]!.executor,
    where: winning.map((setting: ExecutorSetting) => `${setting.file}:${setting.line}`).join(", "),
  };
}

/**
 * The executors' class names: Airflow 2.10+ takes a comma-separated list (the first is the default, the
 * others chosen per task with `executor=`), each a name or a module path
 * (`airflow.providers.celery.executors.celery_executor.CeleryExecutor`), optionally `alias:path`.
 */
export function executorNames(executor: string): string[] {
  return executor
    .split(",")
    .map((part) => part.trim().split(":").at(-1)!.split(".").at(-1)!.trim())
    .filter((name) => name !== "");
}

/** Does any of the executors start pods from executor_config (KubernetesExecutor and its hybrids)? */
export function readsExecutorConfig(executor: string): boolean {
  return executorNames(executor).some((name) => /Kubernetes/.test(name));
}

/** Only the KubernetesExecutor: every task runs in a pod of its own. */
export function onlyKubernetesExecutor(executor: string): boolean {
  const names = executorNames(executor);
  return names.length > 0 && names.every((name) => name === "KubernetesExecutor");
}

/**
 * CeleryKubernetesExecutor and LocalKubernetesExecutor send a task to the KubernetesExecutor only when its
 * queue is `[celery_kubernetes_executor] kubernetes_queue` (default `kubernetes`); every other task runs
 * on a Celery (or local) worker (apache/airflow airflow/executors/celery_kubernetes_executor.py,
 * `_router`; providers/celery/…/celery_kubernetes_executor.py since the executors moved to providers).
 */
export const KUBERNETES_QUEUE = "kubernetes";
