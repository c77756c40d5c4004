/**
 * The one sizing policy: how a recommendation is rounded, and the value each kind of target will hold.
 * The analyzer rounds with it (so the analysis document, the report and the Markdown show the value);
 * `check`, `patch` and `pr` show and write the value of the target a declaration belongs to through it,
 * never rounding again. Pure functions.
 *
 * Targets:
 * - `kubernetes`: pod specs, `pod_override`, KubernetesPodOperator, the Airflow `resources=` cores/MB,
 *   Prefect Kubernetes work pools. Kubernetes takes CPU to the millicore ("Precision finer than 1m is
 *   not allowed", kubernetes.io/docs/concepts/configuration/manage-resources-containers/, "CPU resource
 *   units") and memory to the byte; the steps below are ours, so the recommendation is the value written.
 * - `ecs-fargate`: Prefect ECS work pools (`cpu` in CPU units, `memory` in MiB). Fargate accepts only the
 *   CPU/memory combinations of the AWS ECS developer guide, "Task CPU and memory"
 *   (docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html).
 * - `cloud-run`: Cloud Run takes 0.08 to 1 CPU in 0.001 steps and whole CPUs (1, 2, 4, 6, 8) above one
 *   (cloud.google.com/run/docs/configuring/services/cpu, "CPU and memory table"); memory as Kubernetes.
 */

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * CPU is recommended in 50-millicore steps: fine enough that a 1.02-core task is not handed 1.25 cores,
 * coarse enough to read at a glance (chosen value; any millicore is valid for Kubernetes).
 */
export const CPU_STEP_CORES = 0.05;
/** Never recommend less than 0.1 core (100m): below it CFS quotas starve a process on every wake-up. */
export const CPU_MIN_CORES = 0.1;
/**
 * Memory is recommended in 64 MiB steps (chosen value, a common Kubernetes granularity: every step is a
 * whole number of Mi, so it is written `768Mi`, never `0.75Gi`).
 */
export const MEMORY_STEP_BYTES = 64 * MiB;
/** Never recommend less than 128 MiB: a Python interpreter with pandas imported already takes ~100 MiB. */
export const MEMORY_MIN_BYTES = 128 * MiB;

export type SizingTarget = "kubernetes" | "ecs-fargate" | "cloud-run";

/** Rounds up to a step. The epsilon keeps 0.35000000000000003 from becoming 0.4 when it means 0.35. */
export function roundUpToStep(value: number, step: number): number {
  const steps = Math.ceil(value / step - 1e-9);
  return Number((steps * step).toFixed(6));
}

/** Cores as recommended: 50m steps, at least 100m. */
export function recommendedCores(cores: number): number {
  return Math.max(CPU_MIN_CORES, roundUpToStep(cores, CPU_STEP_CORES));
}

/** Bytes as recommended: 64 MiB steps, at least 128 MiB. */
export function recommendedBytes(bytes: number): number {
  return Math.max(MEMORY_MIN_BYTES, roundUpToStep(bytes, MEMORY_STEP_BYTES));
}

/** Fargate task CPU (CPU units) and the memory (MiB) each allows: AWS ECS developer guide, "Task CPU and memory". */
const fargateSizes: Array<{ cpuUnits: number; memoryMiB: number[] }> = [
  { cpuUnits: 256, memoryMiB: [512, 1024, 2048] },
  { cpuUnits: 512, memoryMiB: [1024, 2048, 3072, 4096] },
  { cpuUnits: 1024, memoryMiB: range(2048, 8192, 1024) },
  { cpuUnits: 2048, memoryMiB: range(4096, 16384, 1024) },
  { cpuUnits: 4096, memoryMiB: range(8192, 30720, 1024) },
  { cpuUnits: 8192, memoryMiB: range(16384, 61440, 4096) },
  { cpuUnits: 16384, memoryMiB: range(32768, 122880, 8192) },
];

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let value = from; value <= to; value += step) values.push(value);
  return values;
}

/** ECS: "1024 CPU units = 1 vCPU" (AWS ECS task definition parameters, `cpu`). */
export const ECS_UNITS_PER_CORE = 1024;

/**
 * The smallest Fargate size holding both: the least CPU at or above `cores` that allows memory at or
 * above `bytes`, with the least such memory. Above the largest size: the largest size.
 */
export function fargateSize(cores: number, bytes: number): { cores: number; bytes: number } {
  const units = cores * ECS_UNITS_PER_CORE;
  const mebibytes = bytes / MiB;
  for (const size of fargateSizes) {
    if (size.cpuUnits < units - 1e-9) continue;
    const memory = size.memoryMiB.find((value) => value >= mebibytes - 1e-9);
    if (memory !== undefined) return { cores: size.cpuUnits / ECS_UNITS_PER_CORE, bytes: memory * MiB };
  }
  const largest = fargateSizes.at(-1)!;
  return { cores: largest.cpuUnits / ECS_UNITS_PER_CORE, bytes: largest.memoryMiB.at(-1)! * MiB };
}

/** Cloud Run CPU: 0.08..1 in 0.001 steps (our 50m steps fit), whole 1, 2, 4, 6 or 8 above one. */
const cloudRunWholeCpus = [1, 2, 4, 6, 8];
const CLOUD_RUN_MIN_CORES = 0.08;

/**
 * The value a target will hold for a recommendation of `cores` and `bytes` (both already rounded by
 * {@link recommendedCores} / {@link recommendedBytes}, or raw: they are rounded here too).
 */
export function targetSize(
  target: SizingTarget,
  cores: number,
  bytes: number,
): { cores: number; bytes: number } {
  const recommended = { cores: recommendedCores(cores), bytes: recommendedBytes(bytes) };
  switch (target) {
    case "kubernetes":
      return recommended;
    case "ecs-fargate":
      return fargateSize(recommended.cores, recommended.bytes);
    case "cloud-run": {
      const whole = cloudRunWholeCpus.find((value) => value >= recommended.cores - 1e-9) ?? 8;
      return {
        cores: recommended.cores < 1 ? Math.max(CLOUD_RUN_MIN_CORES, recommended.cores) : whole,
        bytes: recommended.bytes,
      };
    }
  }
}
