/**
 * The database schema (drizzle). `samples` is range-partitioned by day: drizzle-kit generates its table,
 * and the migration adds `PARTITION BY RANGE (ts)` (see db/migrations/0000_*.sql); partitions are made
 * and dropped by `rightsize_maintain_partitions()` (db/migrations/0001_*.sql). Every other table's rows are
 * deleted by age by the retention (db/queries/retention.ts).
 *
 * Units everywhere: seconds, bytes, cores. A null measure means "unknown", never zero.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const int8 = (name: string) => bigint(name, { mode: "number" });

/** A worker host a collector runs on; inventory taken once at collector start. */
export const hosts = pgTable("hosts", {
  id: text("id").primaryKey(),
  hostname: text("hostname").notNull(),
  cores: integer("cores"),
  memoryBytes: int8("memory_bytes"),
  os: text("os"),
  kernel: text("kernel"),
  cgroupVersion: integer("cgroup_version"),
  inventory: jsonb("inventory").$type<Record<string, unknown>>(),
  firstSeen: ts("first_seen").notNull().defaultNow(),
  lastSeen: ts("last_seen").notNull().defaultNow(),
});

/**
 * One try of one task run on one host (docs/architecture.md "Task key"). The id is made by the collector, so
 * samples can be spooled to disk before the execution row reaches the database.
 */
export const taskExecutions = pgTable(
  "task_executions",
  {
    id: uuid("id").primaryKey(),
    orchestrator: text("orchestrator").notNull(),
    pipeline: text("pipeline").notNull(),
    task: text("task").notNull(),
    runId: text("run_id").notNull(),
    tryNumber: integer("try_number").notNull().default(1),
    /** -1 when the task is not mapped. */
    mapIndex: integer("map_index").notNull().default(-1),
    hostId: text("host_id").notNull(),
    /** Which resolver attributed it: env, airflow-argv, airflow-title, airflow-log, prefect-env, wrapper… */
    attribution: text("attribution").notNull(),
    rootPid: integer("root_pid"),
    /** Root process start time in clock ticks since boot: with the pid, a process's identity. */
    rootStartTicks: int8("root_start_ticks"),
    cgroupPath: text("cgroup_path"),
    startedAt: ts("started_at").notNull(),
    endedAt: ts("ended_at"),
    exitCode: integer("exit_code"),
    /** running, succeeded, failed, killed, or lost (left open by a collector that died). */
    status: text("status").notNull().default("running"),
    requestCpuCores: doublePrecision("request_cpu_cores"),
    limitCpuCores: doublePrecision("limit_cpu_cores"),
    cpuSource: text("cpu_source"),
    requestMemoryBytes: int8("request_memory_bytes"),
    limitMemoryBytes: int8("limit_memory_bytes"),
    memorySource: text("memory_source"),
    /** Top remote endpoints the task's threads waited on: [{ endpoint, waitSeconds }]. */
    endpoints: jsonb("endpoints").$type<Array<{ endpoint: string; waitSeconds: number }>>(),
    /** Real uid of the root process (the trust model, docs/collector-storage.md); null when unknown. */
    uid: integer("uid"),
    /** Kubernetes pod UID from the root's cgroup path; null outside Kubernetes. */
    podUid: text("pod_uid"),
    /**
     * The collector's CPU self-check (docs/collector.md "Self-check"), set when the execution ends: the CPU
     * seconds the /proc tree walk summed over the execution, before `run` settled its root with the exact
     * figure; null when no reference was known.
     */
    treeCpuSeconds: doublePrecision("tree_cpu_seconds"),
    /** The exact CPU seconds over the same span, that the tree's sum is checked against. */
    referenceCpuSeconds: doublePrecision("reference_cpu_seconds"),
    /**
     * Where the reference comes from: `cgroup` (the task's own cgroup's usage) or `wait4` (what `run`
     * got from the kernel on reaping its command: its own children's times, /proc/self/stat).
     */
    referenceCpuSource: text("reference_cpu_source").$type<"cgroup" | "wait4">(),
    /**
     * When the retention rolled the run's processes up per command and deleted its per-process rows
     * (db/queries/retention.ts); null until then. The hourly pass finds the runs still to do by it.
     */
    processesPrunedAt: ts("processes_pruned_at"),
  },
  (table) => [
    uniqueIndex("task_executions_identity").on(
      table.orchestrator,
      table.pipeline,
      table.task,
      table.runId,
      table.tryNumber,
      table.mapIndex,
      table.hostId,
    ),
    index("task_executions_task_started").on(table.orchestrator, table.pipeline, table.task, table.startedAt),
    /** The retention finds the runs past retention.runs by it (db/queries/retention.ts). */
    index("task_executions_started").on(table.startedAt),
    /**
     * Only the runs whose per-process rows are still there (the last retention.processes days): the
     * hourly pass reads the few past the age, not every older run.
     */
    index("task_executions_processes_kept")
      .on(table.startedAt)
      .where(sql`${table.processesPrunedAt} is null`),
    index("task_executions_open")
      .on(table.hostId)
      .where(sql`${table.endedAt} is null`),
  ],
);

/**
 * One row per execution per tick. Counters are deltas over the tick (`intervalSeconds`); thread-time
 * columns are thread-seconds spent in each state during the tick, so their sums give time shares.
 */
export const samples = pgTable(
  "samples",
  {
    executionId: uuid("execution_id").notNull(),
    ts: ts("ts").notNull(),
    intervalSeconds: real("interval_seconds").notNull(),
    cpuCores: real("cpu_cores"),
    /** Tree-wide utime+stime+cutime+cstime (or the task cgroup's usage) at this tick, cumulative. */
    cpuSecondsTotal: doublePrecision("cpu_seconds_total"),
    rssBytes: int8("rss_bytes"),
    diskReadBytes: int8("disk_read_bytes"),
    diskWriteBytes: int8("disk_write_bytes"),
    netRxBytes: int8("net_rx_bytes"),
    netTxBytes: int8("net_tx_bytes"),
    onCpuSeconds: real("on_cpu_seconds"),
    cpuWaitSeconds: real("cpu_wait_seconds"),
    diskWaitSeconds: real("disk_wait_seconds"),
    netWaitSeconds: real("net_wait_seconds"),
    childWaitSeconds: real("child_wait_seconds"),
    idleSeconds: real("idle_seconds"),
    /**
     * Wall-clock split of the tick (seconds, adding up to intervalSeconds): on a CPU when any thread ran,
     * else waiting for a CPU when one was runnable, else blocked on disk / a socket / a child, else idle.
     */
    wallOnCpuSeconds: real("wall_on_cpu_seconds"),
    wallCpuWaitSeconds: real("wall_cpu_wait_seconds"),
    wallDiskWaitSeconds: real("wall_disk_wait_seconds"),
    wallNetWaitSeconds: real("wall_net_wait_seconds"),
    wallChildWaitSeconds: real("wall_child_wait_seconds"),
    wallIdleSeconds: real("wall_idle_seconds"),
    threads: integer("threads"),
    processesAlive: integer("processes_alive"),
    /** Processes started during the tick, including those that exited before the tick saw them. */
    processesStarted: integer("processes_started"),
    throttledPeriods: integer("throttled_periods"),
    totalPeriods: integer("total_periods"),
    throttledSeconds: real("throttled_seconds"),
    oomKills: integer("oom_kills"),
    psiCpuSome: real("psi_cpu_some"),
    psiMemorySome: real("psi_memory_some"),
    psiIoSome: real("psi_io_some"),
    hostLoad1: real("host_load1"),
  },
  (table) => [primaryKey({ columns: [table.executionId, table.ts] })],
);

/**
 * What a host did each tick while the `collect` daemon tracked a task on it: the CPU busy and in iowait
 * (/proc/stat), the busiest whole disk's busy share and the disks' bytes (/proc/diskstats), and the host's
 * pressure stall shares. Read beside the executions' own samples, it tells a neighbour's or an untracked
 * process's use from the task's. Rows are deltas over `intervalSeconds`, like samples.
 */
export const hostSamples = pgTable(
  "host_samples",
  {
    hostId: text("host_id").notNull(),
    ts: ts("ts").notNull(),
    intervalSeconds: real("interval_seconds").notNull(),
    /** Cores busy (user, nice, system, irq, softirq, steal) over the tick. */
    cpuBusyCores: real("cpu_busy_cores"),
    /** Cores idle with I/O outstanding over the tick. */
    cpuIowaitCores: real("cpu_iowait_cores"),
    /** Cores the hypervisor gave to others over the tick (inside cpuBusyCores). */
    cpuStealCores: real("cpu_steal_cores"),
    /** The busiest whole disk's share of the tick with I/O in flight (io_ticks), 0–1. */
    diskBusyShare: real("disk_busy_share"),
    diskReadBytes: int8("disk_read_bytes"),
    diskWriteBytes: int8("disk_write_bytes"),
    psiCpuSome: real("psi_cpu_some"),
    psiMemorySome: real("psi_memory_some"),
    psiIoSome: real("psi_io_some"),
    load1: real("load1"),
  },
  (table) => [primaryKey({ columns: [table.hostId, table.ts] })],
);

/** Every process seen in an execution's tree, with its totals. argv is redacted before it is stored. */
export const executionProcesses = pgTable(
  "execution_processes",
  {
    executionId: uuid("execution_id").notNull(),
    pid: integer("pid").notNull(),
    startTicks: int8("start_ticks").notNull(),
    ppid: integer("ppid"),
    command: text("command").notNull(),
    argv: text("argv"),
    firstSeen: ts("first_seen").notNull(),
    lastSeen: ts("last_seen").notNull(),
    cpuSeconds: doublePrecision("cpu_seconds").notNull().default(0),
    peakRssBytes: int8("peak_rss_bytes").notNull().default(0),
    readBytes: int8("read_bytes"),
    writeBytes: int8("write_bytes"),
    exited: boolean("exited").notNull().default(false),
  },
  (table) => [primaryKey({ columns: [table.executionId, table.pid, table.startTicks] })],
);

/**
 * An execution's processes rolled up per command (the `command` column the analyzer groups by), written
 * when the run is summarized and again just before its per-process rows are deleted by the retention
 * (db/queries/retention.ts): the per-command split outlives the per-process rows. Readers take the
 * per-process rows while they exist and this rollup once they are gone (db/queries/execution-commands.ts).
 */
export const executionCommands = pgTable(
  "execution_commands",
  {
    executionId: uuid("execution_id").notNull(),
    command: text("command").notNull(),
    /** Processes of the execution that ran this command. */
    processes: integer("processes").notNull(),
    cpuSeconds: doublePrecision("cpu_seconds").notNull(),
    /** The largest single process's peak RSS, as the per-process rows' max. */
    peakRssBytes: int8("peak_rss_bytes").notNull(),
    /** Summed over the processes; null when none of them had a reading. */
    readBytes: int8("read_bytes"),
    writeBytes: int8("write_bytes"),
    firstSeen: ts("first_seen").notNull(),
    lastSeen: ts("last_seen").notNull(),
  },
  (table) => [primaryKey({ columns: [table.executionId, table.command] })],
);

/** A resource request found in a DAG or flow source by `rightsize scan`. */
export const declaredRequests = pgTable(
  "declared_requests",
  {
    id: serial("id").primaryKey(),
    repo: text("repo").notNull(),
    file: text("file").notNull(),
    line: integer("line").notNull(),
    column: integer("column").notNull(),
    orchestrator: text("orchestrator").notNull(),
    pipeline: text("pipeline").notNull(),
    task: text("task").notNull(),
    /** cpu or memory. */
    resource: text("resource").notNull(),
    /** request or limit. */
    kind: text("kind").notNull(),
    /** The literal as written (`"2Gi"`, `2048`), or the expression when dynamic. */
    raw: text("raw").notNull(),
    unit: text("unit"),
    /** Cores or bytes; null when dynamic. */
    value: doublePrecision("value"),
    dynamic: boolean("dynamic").notNull().default(false),
    /** Which declaration pattern matched (resources, pod_override, container_resources, …). */
    pattern: text("pattern").notNull(),
    scannedAt: ts("scanned_at").notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("declared_requests_identity").on(
      table.repo,
      table.orchestrator,
      table.pipeline,
      table.task,
      table.resource,
      table.kind,
    ),
  ],
);

/**
 * A finished execution's samples, summarized once (the analyzer's first night that sees it ended): the
 * nightly analysis reads these instead of the samples. `coresQuantiles` holds the per-second cores at
 * the 0, 1, …, 100th percentile (101 values, percentile_cont), a sketch that task-level percentiles
 * are merged from.
 */
export const runSummaries = pgTable("run_summaries", {
  executionId: uuid("execution_id").primaryKey(),
  ticks: integer("ticks").notNull(),
  sampledSeconds: doublePrecision("sampled_seconds").notNull(),
  cpuP50: doublePrecision("cpu_p50"),
  cpuP95: doublePrecision("cpu_p95"),
  cpuMax: doublePrecision("cpu_max"),
  cpuSeconds: doublePrecision("cpu_seconds"),
  coresQuantiles: doublePrecision("cores_quantiles").array(),
  peakRssBytes: doublePrecision("peak_rss_bytes"),
  diskReadBytes: doublePrecision("disk_read_bytes"),
  diskWriteBytes: doublePrecision("disk_write_bytes"),
  netRxBytes: doublePrecision("net_rx_bytes"),
  netTxBytes: doublePrecision("net_tx_bytes"),
  onCpuSeconds: doublePrecision("on_cpu_seconds").notNull(),
  cpuWaitSeconds: doublePrecision("cpu_wait_seconds").notNull(),
  diskWaitSeconds: doublePrecision("disk_wait_seconds").notNull(),
  netWaitSeconds: doublePrecision("net_wait_seconds").notNull(),
  childWaitSeconds: doublePrecision("child_wait_seconds").notNull(),
  idleSeconds: doublePrecision("idle_seconds").notNull(),
  /** Wall-clock seconds per state (samples' wall_* columns summed); null for runs sampled before they existed. */
  wallOnCpuSeconds: doublePrecision("wall_on_cpu_seconds"),
  wallCpuWaitSeconds: doublePrecision("wall_cpu_wait_seconds"),
  wallDiskWaitSeconds: doublePrecision("wall_disk_wait_seconds"),
  wallNetWaitSeconds: doublePrecision("wall_net_wait_seconds"),
  wallChildWaitSeconds: doublePrecision("wall_child_wait_seconds"),
  wallIdleSeconds: doublePrecision("wall_idle_seconds"),
  oomKills: integer("oom_kills").notNull(),
  throttledPeriods: doublePrecision("throttled_periods"),
  totalPeriods: doublePrecision("total_periods"),
  processesMax: integer("processes_max"),
  processesStarted: integer("processes_started"),
  hostLoadAvg: doublePrecision("host_load_avg"),
  computedAt: ts("computed_at").notNull().defaultNow(),
});

/** One task's analysis over one window: the task entry of the analysis document. */
export const taskProfiles = pgTable(
  "task_profiles",
  {
    orchestrator: text("orchestrator").notNull(),
    pipeline: text("pipeline").notNull(),
    task: text("task").notNull(),
    windowEnd: ts("window_end").notNull(),
    windowDays: real("window_days").notNull(),
    runs: integer("runs").notNull(),
    bottleneck: text("bottleneck").notNull(),
    document: jsonb("document").notNull().$type<Record<string, unknown>>(),
    computedAt: ts("computed_at").notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.orchestrator, table.pipeline, table.task, table.windowEnd] })],
);

/** The recommendation of one task for one window, kept apart for the check and history queries. */
export const recommendations = pgTable(
  "recommendations",
  {
    orchestrator: text("orchestrator").notNull(),
    pipeline: text("pipeline").notNull(),
    task: text("task").notNull(),
    windowEnd: ts("window_end").notNull(),
    cpuCores: doublePrecision("cpu_cores").notNull(),
    memoryBytes: int8("memory_bytes").notNull(),
    confidence: text("confidence").notNull(),
    severity: text("severity").notNull(),
    monthlySavingsUsd: doublePrecision("monthly_savings_usd"),
    reason: text("reason").notNull(),
    computedAt: ts("computed_at").notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.orchestrator, table.pipeline, table.task, table.windowEnd] })],
);

/**
 * One analysis of one window, recorded even when it found no task: `report` renders the latest one, and
 * an empty one says why it is empty instead of "no analysis yet".
 */
export const analyses = pgTable("analyses", {
  windowEnd: ts("window_end").primaryKey(),
  windowDays: real("window_days").notNull(),
  tasks: integer("tasks").notNull(),
  /** Why the window holds no task (set only when `tasks` is 0). */
  emptyReason: text("empty_reason"),
  computedAt: ts("computed_at").notNull().defaultNow(),
});

/** A rendering of the analysis: what was written where, and whether the email went out. */
export const reportRuns = pgTable("report_runs", {
  id: serial("id").primaryKey(),
  windowEnd: ts("window_end").notNull(),
  generatedAt: ts("generated_at").notNull().defaultNow(),
  htmlPath: text("html_path"),
  markdownPath: text("markdown_path"),
  /** pending (written, email being sent), skipped, sent, or failed. */
  emailStatus: text("email_status"),
  emailError: text("email_error"),
  tasks: integer("tasks").notNull().default(0),
  /**
   * No longer written or read: the email's once-only record is report_deliveries (channel `email`), where
   * migration 0006 copied it. Kept so a worker of the previous version, still running during an upgrade,
   * can go on inserting report runs (dropping the column would fail its inserts).
   * @deprecated
   */
  deliveryKey: text("delivery_key"),
});

/**
 * The once-only record of each delivery of a night's summary, one row per delivery key and channel
 * (`email`, `slack`): written the moment the channel accepted it, before anything else can fail, so a
 * retried publish finds it sent and does not send it twice (reports/delivery-record.ts).
 */
export const reportDeliveries = pgTable(
  "report_deliveries",
  {
    /** Names the delivery: the night's window end (ISO-8601), or the key the publisher was given. */
    deliveryKey: text("delivery_key").notNull(),
    channel: text("channel").notNull(),
    /** sent or failed. */
    status: text("status").notNull(),
    error: text("error"),
    attempts: integer("attempts").notNull().default(1),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    /** The email's report run (what it attached); null for other channels. */
    reportRunId: integer("report_run_id").references(() => reportRuns.id),
  },
  (table) => [primaryKey({ columns: [table.deliveryKey, table.channel] })],
);
