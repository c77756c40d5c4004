/**
 * Configuration: defaults, overridden by an optional YAML file, overridden by environment variables.
 * Parsed and validated once at the entry point (`loadConfig`), then passed down as plain data.
 *
 * Every setting is one row of {@link settings}: its key in the YAML file, its environment variable, its
 * default and what it means. The README's configuration reference and the compose-file check read the
 * same table, so a setting documented is a setting that exists.
 */
import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { maskValue } from "./mask-secrets.js";
import { parseBytes, parseDurationMs } from "./units.js";

/** A declared request from configuration, for tasks whose DAG/flow files declare none. */
export interface ConfiguredRequest {
  orchestrator?: string;
  pipeline: string;
  /** Omitted: every task of the pipeline. */
  task?: string;
  cpuCores?: number;
  memoryBytes?: number;
}

export interface Config {
  database: { url: string };
  redis: { url: string | null };
  log: { level: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent" };
  collector: {
    intervalMs: number;
    spoolDir: string;
    spoolMaxBytes: number;
    procRoot: string;
    cgroupRoot: string;
    hostId: string;
    /** Airflow's `[logging] log_filename_template`, when it is not the default (docs/collector.md). */
    airflowLogTemplate: string | null;
    /** `auto`, `off`, or the URL of a kubelet's `/pods` or of an API server. */
    kubernetesApi: string;
    /** This node's name, to ask the API server for this node's pods only. */
    nodeName: string | null;
    /** `collector.trust` entries (collector/trust.ts). */
    trust: string[];
    /** HOST:PORT of the OpenMetrics endpoint of `collect`; null: off. */
    metricsListen: string | null;
    accounting: "auto" | "acct" | "poll";
    stateDir: string;
  };
  analysis: {
    windowDays: number;
    maxRuns: number;
    cpuBuffer: number;
    memoryBuffer: number;
    cpuRunPercentile: number;
    memoryPeakPercentile: number;
    requests: ConfiguredRequest[];
  };
  pricing: { cpuHourUsd: number; memoryGibHourUsd: number };
  schedule: { cron: string; timezone: string };
  queue: { prefix: string; concurrency: number };
  retention: { days: number; partitionsAheadDays: number };
  reports: { outDir: string; baseUrl: string | null };
  email: { smtpUrl: string | null; from: string; to: string[] };
  /** `webhookUrl` is a secret (whoever holds it can post): never logged or put in an error message. */
  slack: { webhookUrl: string | null };
  github: { token: string | null; apiUrl: string; repo: string | null; baseBranch: string };
  check: { overRatio: number; minCpuCores: number; minMemoryBytes: number };
  prefect: { cpuVariables: string[]; memoryVariables: string[] };
  metrics: {
    statsd: { host: string; port: number } | null;
    statsdTags: "none" | "dogstatsd" | "telegraf";
    statsdPrefix: string;
    statsdIntervalMs: number;
    runIds: boolean;
  };
}

/** One configuration setting. */
export interface Setting {
  /** Dotted path in the YAML file and in {@link Config}. */
  key: string;
  /** Environment variable that overrides the file, if any. */
  env?: string;
  /** Default, as a user would write it. */
  default: unknown;
  description: string;
  /** What a valid value looks like, for error messages. */
  expected: string;
  parse: z.ZodType;
}

/**
 * The longest delay a Node timer holds: setTimeout/setInterval take a signed 32-bit millisecond count
 * and fire after 1 ms beyond it (Node docs, timers "setTimeout": "When delay is larger than 2147483647
 * or less than 1, the delay will be set to 1"), which turned `--interval 25d` into a busy loop.
 */
export const MAX_TIMER_MS = 2_147_483_647;
/** Largest byte count stored exactly (int8 columns, JavaScript numbers: Number.MAX_SAFE_INTEGER). */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;
/** `collector.trust` entries (collector/trust.ts reads them). */
export const TRUST_ENTRY =
  /^(any|root|system-services|containers|uid:\d{1,10}|user:[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;
/** HOST:PORT (IPv4, [IPv6] or a name) with a TCP port. */
export const LISTEN_ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const duration = z
  .union([z.number(), z.string()])
  .transform((value) => (typeof value === "number" ? value * 1000 : parseDurationMs(value)))
  .pipe(z.number().positive().finite());
/** Durations a time window or retention may span: up to 100 years (Date arithmetic stays exact). */
const days = duration.pipe(z.number().max(100 * 365 * 86_400_000)).transform((ms) => ms / 86_400_000);
const bytes = z
  .union([z.number(), z.string()])
  .transform((value) => (typeof value === "number" ? value : parseBytes(value)))
  .pipe(z.number().nonnegative().max(MAX_BYTES));
const numeric = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);
const fraction = numeric.pipe(z.number().min(0).max(5));
const positiveInt = numeric.pipe(z.number().int().positive());
const percentile = numeric.pipe(z.number().min(1).max(100));
const price = numeric.pipe(z.number().nonnegative());
const text = z.string().min(1);
const optionalText = z
  .string()
  .transform((value) => (value === "" ? null : value))
  .nullable();
const list = z.union([z.array(z.string()), z.string()]).transform((value) =>
  typeof value === "string"
    ? value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean)
    : value,
);
const boolean = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["true", "false", "1", "0", "yes", "no"]))
    .transform((value) => ["true", "1", "yes"].includes(value)),
]);
/** `host:port` (a bracketed IPv6 host allowed); empty: unset. */
const hostPort = optionalText.pipe(
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/)
    .transform((value) => {
      const at = value.lastIndexOf(":");
      return { host: value.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(value.slice(at + 1)) };
    })
    .refine(({ port }) => port > 0 && port < 65_536)
    .nullable(),
);
const url = (schemes: string[]) =>
  optionalText.refine((value) => value === null || schemes.some((scheme) => value.startsWith(scheme)));

export const settings: Setting[] = [
  {
    key: "database.url",
    env: "DATABASE_URL",
    default: "./.rightsize/db",
    expected: "postgres://USER@HOST:PORT/DB, pglite://PATH or a folder path",
    description: "Where samples and analyses live: a Postgres server, or an embedded PGlite folder.",
    parse: text,
  },
  {
    key: "redis.url",
    env: "REDIS_URL",
    default: null,
    expected: "redis://HOST:PORT[/DB]",
    description: "BullMQ's Redis. Unset: the nightly analysis runs inline in one process.",
    parse: url(["redis://", "rediss://"]),
  },
  {
    key: "log.level",
    env: "LOG_LEVEL",
    default: "info",
    expected: "one of trace, debug, info, warn, error, fatal, silent",
    description: "Log verbosity. Logs go to stderr: JSON lines, or readable lines on a terminal.",
    parse: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
  },
  {
    key: "collector.interval",
    env: "RIGHTSIZE_INTERVAL",
    default: "1s",
    expected: "a duration such as 1s or 500ms",
    description: "Sampling tick of `collect` and `run`: 50ms to 24d (the longest a Node timer waits).",
    parse: duration.pipe(z.number().min(50).max(MAX_TIMER_MS)),
  },
  {
    key: "collector.spoolDir",
    env: "RIGHTSIZE_SPOOL_DIR",
    default: "(root: /var/lib/rightsize/spool; others: $XDG_STATE_HOME/rightsize/spool)",
    expected: "a folder path",
    description:
      "Where samples wait on disk while the database is unreachable: a folder only this user can write (docs/collector-storage.md). A relative path is taken from the working directory at start.",
    parse: text.transform((path) => resolvePath(path)),
  },
  {
    key: "collector.spoolMaxBytes",
    env: "RIGHTSIZE_SPOOL_MAX",
    default: "1GiB",
    expected: "a size such as 1GiB or 512MiB",
    description: "Spool bound; only a full spool drops samples (counted and logged as errors).",
    parse: bytes,
  },
  {
    key: "collector.trust",
    env: "RIGHTSIZE_TRUST",
    default: ["root", "system-services", "containers"],
    expected:
      "entries among root, system-services, containers, any, uid:N, user:NAME (comma-separated or a YAML list)",
    description:
      "Whose processes `collect` may turn into task executions: by real uid, or by the cgroup only root can place a process in (docs/collector-storage.md).",
    parse: list.pipe(z.array(z.string().regex(TRUST_ENTRY)).min(1)),
  },
  {
    key: "collector.metricsListen",
    env: "RIGHTSIZE_METRICS_LISTEN",
    default: null,
    expected: "HOST:PORT such as 127.0.0.1:9464",
    description: "OpenMetrics endpoint of `collect` (/metrics, /healthz, /readyz). Unset: off.",
    parse: optionalText.refine(
      (value) =>
        value === null || (LISTEN_ADDRESS.test(value) && Number(LISTEN_ADDRESS.exec(value)![2]) <= 65_535),
    ),
  },
  {
    key: "collector.accounting",
    env: "RIGHTSIZE_ACCOUNTING",
    default: "auto",
    expected: "one of auto, acct, poll",
    description:
      "How exited processes are accounted: BSD process accounting (acct, needs root), polling children lists (poll), or accounting when it can be turned on (auto). docs/collector.md.",
    parse: z.enum(["auto", "acct", "poll"]),
  },
  {
    key: "collector.stateDir",
    env: "RIGHTSIZE_STATE_DIR",
    default: "/var/lib/rightsize",
    expected: "a folder path only root can write",
    description: "Where the collector keeps the process accounting file.",
    parse: text,
  },
  {
    key: "collector.procRoot",
    env: "RIGHTSIZE_PROC_ROOT",
    default: "/proc",
    expected: "a folder path",
    description: "procfs mount; /host/proc when the collector runs in a container.",
    parse: text,
  },
  {
    key: "collector.cgroupRoot",
    env: "RIGHTSIZE_CGROUP_ROOT",
    default: "/sys/fs/cgroup",
    expected: "a folder path",
    description: "cgroup mount (v1 or v2).",
    parse: text,
  },
  {
    key: "collector.hostId",
    env: "RIGHTSIZE_HOST_ID",
    default: "(the host name)",
    expected: "a non-empty name",
    description: "Name this host is stored under.",
    parse: text,
  },
  {
    key: "collector.airflowLogTemplate",
    env: "RIGHTSIZE_AIRFLOW_LOG_TEMPLATE",
    default: null,
    expected: "Airflow's [logging] log_filename_template, pasted as is",
    description:
      "Airflow task log file names, when your Airflow changed the default: tasks are recognised by the log their supervisor holds open. The default and the pre-2.3 template are always tried; a worker's own AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE is read too.",
    parse: optionalText,
  },
  {
    key: "collector.kubernetesApi",
    env: "RIGHTSIZE_KUBERNETES_API",
    default: "auto",
    expected:
      "auto, off, or a URL (https://NODE:10250/pods for a kubelet, https://HOST:6443 for an API server)",
    description:
      "Where pod metadata comes from (task keys of KubernetesExecutor, KubernetesPodOperator and Prefect pods, and requests from the pod spec). auto: the API server through the in-cluster service account, for this node's pods only.",
    parse: text.refine((value) => value === "auto" || value === "off" || /^https?:\/\/./.test(value)),
  },
  {
    key: "collector.nodeName",
    env: "RIGHTSIZE_NODE_NAME",
    default: null,
    expected: "the node's name (downward API spec.nodeName)",
    description: "This Kubernetes node's name: the API server is asked for its pods only.",
    parse: optionalText,
  },
  {
    key: "analysis.window",
    env: "RIGHTSIZE_WINDOW",
    default: "14d",
    expected: "a duration such as 14d",
    description: "How far back the nightly analysis looks.",
    parse: days,
  },
  {
    key: "analysis.maxRuns",
    env: "RIGHTSIZE_MAX_RUNS",
    default: 100,
    expected: "a whole number above 0",
    description: "At most this many of a task's latest runs are analyzed.",
    parse: positiveInt,
  },
  {
    key: "analysis.cpuBuffer",
    env: "RIGHTSIZE_CPU_BUFFER",
    default: 0.15,
    expected: "a fraction such as 0.15",
    description: "Head-room added to the CPU recommendation (0.15 = 15 %, as KRR's simple strategy).",
    parse: fraction,
  },
  {
    key: "analysis.memoryBuffer",
    env: "RIGHTSIZE_MEMORY_BUFFER",
    default: 0.15,
    expected: "a fraction such as 0.15",
    description: "Head-room added to the memory recommendation (0.15 = 15 %, as KRR's simple strategy).",
    parse: fraction,
  },
  {
    key: "analysis.cpuRunPercentile",
    env: "RIGHTSIZE_CPU_RUN_PERCENTILE",
    default: 90,
    expected: "a percentile from 1 to 100",
    description: "CPU recommendation: this percentile across runs of each run's p95 cores.",
    parse: percentile,
  },
  {
    key: "analysis.memoryPeakPercentile",
    env: "RIGHTSIZE_MEMORY_PEAK_PERCENTILE",
    default: 100,
    expected: "a percentile from 1 to 100",
    description: "Memory recommendation: this percentile of per-run peaks (100 = the maximum).",
    parse: percentile,
  },
  {
    key: "analysis.requests",
    default: [],
    expected: "a list of { pipeline, task?, orchestrator?, cpuCores?, memory? }",
    description: "Requests for tasks whose DAG/flow files declare none (YAML file only).",
    parse: z.array(
      z.object({
        orchestrator: z.string().optional(),
        pipeline: z.string(),
        task: z.string().optional(),
        cpuCores: numeric.pipe(z.number().positive()).optional(),
        memory: bytes.optional(),
      }),
    ),
  },
  {
    key: "pricing.cpuHourUsd",
    env: "RIGHTSIZE_PRICE_CPU_HOUR",
    default: 0.031611,
    expected: "a price in USD such as 0.031611",
    description: "USD per vCPU-hour. Default: Kubecost's default CPU price (GCP n1-standard, us-central1).",
    parse: price,
  },
  {
    key: "pricing.memoryGibHourUsd",
    env: "RIGHTSIZE_PRICE_GIB_HOUR",
    default: 0.004237,
    expected: "a price in USD such as 0.004237",
    description: "USD per GiB-hour. Default: Kubecost's default RAM price (GCP n1-standard, us-central1).",
    parse: price,
  },
  {
    key: "schedule.cron",
    env: "RIGHTSIZE_CRON",
    default: "0 2 * * *",
    expected: "a cron pattern such as '0 2 * * *'",
    description: "When the nightly analysis fires.",
    parse: z.string().regex(/^\S+(\s+\S+){4,5}$/),
  },
  {
    key: "schedule.timezone",
    env: "RIGHTSIZE_TZ",
    default: "UTC",
    expected: "an IANA time zone such as Europe/Berlin",
    description: "Time zone of the cron pattern.",
    parse: z.string().refine((zone) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    }),
  },
  {
    key: "queue.prefix",
    env: "RIGHTSIZE_QUEUE_PREFIX",
    default: "rightsize",
    expected: "a Redis key prefix",
    description: "BullMQ key prefix; separate deployments sharing a Redis use different prefixes.",
    parse: text,
  },
  {
    key: "queue.concurrency",
    env: "RIGHTSIZE_CONCURRENCY",
    default: 2,
    expected: "a whole number above 0",
    description: "Jobs a worker process runs at once.",
    parse: positiveInt,
  },
  {
    key: "retention.days",
    env: "RIGHTSIZE_RETENTION",
    default: "30d",
    expected: "a duration such as 30d",
    description: "Sample partitions older than this are dropped by the maintenance job.",
    parse: days,
  },
  {
    key: "retention.partitionsAhead",
    env: "RIGHTSIZE_PARTITIONS_AHEAD",
    default: "7d",
    expected: "a duration such as 7d",
    description: "Daily sample partitions are created this far ahead.",
    parse: days,
  },
  {
    key: "reports.outDir",
    env: "RIGHTSIZE_REPORTS_DIR",
    default: "./.rightsize/reports",
    expected: "a folder path",
    description: "Where `report` and the nightly publish job write HTML and Markdown.",
    parse: text,
  },
  {
    key: "reports.baseUrl",
    env: "RIGHTSIZE_REPORTS_BASE_URL",
    default: null,
    expected: "an http(s) URL",
    description:
      "Where reports.outDir is served on the web: the Slack message, the email and the Markdown report link to the night's HTML report under it. Unset: no link.",
    parse: url(["http://", "https://"]),
  },
  {
    key: "slack.webhookUrl",
    env: "SLACK_WEBHOOK_URL",
    default: null,
    expected: "a Slack incoming webhook URL (https://hooks.slack.com/services/…)",
    description:
      "Posts the nightly summary to this Slack incoming webhook (a secret: never logged). Unset: no Slack message.",
    parse: url(["https://", "http://"]),
  },
  {
    key: "email.smtpUrl",
    env: "SMTP_URL",
    default: null,
    expected: "smtp://[USER:PASS@]HOST:PORT or smtps://…",
    description: "SMTP server for the nightly email. Unset: no email.",
    parse: url(["smtp://", "smtps://"]),
  },
  {
    key: "email.from",
    env: "RIGHTSIZE_EMAIL_FROM",
    default: "rightsize@localhost",
    expected: "an email address",
    description: "Sender of the nightly email.",
    parse: text,
  },
  {
    key: "email.to",
    env: "RIGHTSIZE_EMAIL_TO",
    default: [],
    expected: "addresses, comma-separated or a YAML list",
    description: "Recipients of the nightly email. Empty: no email.",
    parse: list,
  },
  {
    key: "github.token",
    env: "GITHUB_TOKEN",
    default: null,
    expected: "a GitHub token",
    description: "Token for `pr --github` to open pull requests.",
    parse: optionalText,
  },
  {
    key: "github.apiUrl",
    env: "GITHUB_API_URL",
    default: "https://api.github.com",
    expected: "an http(s) URL",
    description: "GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).",
    parse: z.string().regex(/^https?:\/\//),
  },
  {
    key: "github.repo",
    env: "RIGHTSIZE_GITHUB_REPO",
    default: null,
    expected: "OWNER/REPO",
    description: "Repository `pr` opens pull requests on when --github is not given.",
    parse: optionalText.refine((value) => value === null || /^[\w.-]+\/[\w.-]+$/.test(value)),
  },
  {
    key: "github.baseBranch",
    env: "RIGHTSIZE_GITHUB_BASE",
    default: "main",
    expected: "a branch name",
    description: "Base branch of pull requests.",
    parse: text,
  },
  {
    key: "check.overRatio",
    env: "RIGHTSIZE_CHECK_OVER_RATIO",
    default: 2,
    expected: "a number above 1 such as 2",
    description: "`check`: a request over this many times the recommendation is over-provisioned…",
    parse: numeric.pipe(z.number().gt(1)),
  },
  {
    key: "check.minCpuCores",
    env: "RIGHTSIZE_CHECK_MIN_CPU",
    default: 0.5,
    expected: "cores such as 0.5",
    description: "…and only when it is also at least this many cores more…",
    parse: numeric.pipe(z.number().nonnegative()),
  },
  {
    key: "check.minMemory",
    env: "RIGHTSIZE_CHECK_MIN_MEMORY",
    default: "512MiB",
    expected: "a size such as 512MiB",
    description: "…or at least this much memory more.",
    parse: bytes,
  },
  {
    key: "prefect.cpuVariables",
    env: "RIGHTSIZE_PREFECT_CPU_VARS",
    default: ["cpu", "cpu_request"],
    expected: "names, comma-separated or a YAML list",
    description: "prefect.yaml job_variables that declare CPU (custom Kubernetes templates add theirs).",
    parse: list,
  },
  {
    key: "prefect.memoryVariables",
    env: "RIGHTSIZE_PREFECT_MEMORY_VARS",
    default: ["memory", "memory_request"],
    expected: "names, comma-separated or a YAML list",
    description: "prefect.yaml job_variables that declare memory.",
    parse: list,
  },
  {
    key: "metrics.statsd",
    env: "RIGHTSIZE_STATSD",
    default: null,
    expected: "host:port of a StatsD server (UDP)",
    description:
      "Sends live per-task `task.cpu_usage` and `task.mem_usage` (Airflow 2.10's names) to StatsD. Unset: off. OTLP is configured by the standard `OTEL_EXPORTER_OTLP_*` variables.",
    parse: hostPort,
  },
  {
    key: "metrics.statsdTags",
    env: "RIGHTSIZE_STATSD_TAGS",
    default: "none",
    expected: "none, dogstatsd or telegraf",
    description:
      "StatsD naming: `none` puts DAG and task in the name as Airflow did (`airflow.task.cpu_usage.DAG.TASK`); `dogstatsd`/`telegraf` send `task.cpu_usage` with dag_id and task_id tags.",
    parse: z.enum(["none", "dogstatsd", "telegraf"]),
  },
  {
    key: "metrics.statsdPrefix",
    env: "RIGHTSIZE_STATSD_PREFIX",
    default: "airflow",
    expected: "a StatsD name prefix (letters, digits, _ . -), or empty",
    description:
      "Prefix of StatsD names; Airflow's `[metrics] statsd_prefix` default, so existing dashboards match.",
    parse: z.string().regex(/^[A-Za-z0-9_.-]*$/),
  },
  {
    key: "metrics.statsdInterval",
    env: "RIGHTSIZE_STATSD_INTERVAL",
    default: "5s",
    expected: "a duration such as 5s",
    description: "How often live task gauges go to StatsD (Airflow 2.10 sent them every 5 s).",
    parse: duration,
  },
  {
    key: "metrics.runIds",
    env: "RIGHTSIZE_METRICS_RUN_IDS",
    default: false,
    expected: "true or false",
    description:
      "Adds run ids (and the root pid) to exported metrics: one series per run, so off by default (cardinality).",
    parse: boolean,
  },
];

/** Where each setting's value was read from, for error messages. */
type Origin =
  { kind: "default" } | { kind: "env"; name: string } | { kind: "file"; file: string; line: number };

function describeOrigin(origin: Origin): string {
  if (origin.kind === "env") return `from ${origin.name}`;
  if (origin.kind === "file") return `at ${origin.file}:${origin.line}`;
  return "default";
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function closestKey(key: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  const best = settings
    .map((setting) => ({ key: setting.key, score: distance(key, setting.key) }))
    .sort((a, b) => a.score - b.score)[0];
  return best && best.score <= 3 ? best.key : undefined;
}

/** Flattens the YAML file into dotted keys with the line each value stands on. */
function readFile(file: string): Map<string, { value: unknown; line: number }> {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`config: cannot read ${file}: ${(error as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const line = lineCounter.linePos(firstError.pos[0]).line;
    throw new ConfigError(`config: ${file}:${line}: not valid YAML: ${firstError.message.split("\n")[0]}`);
  }
  const values = new Map<string, { value: unknown; line: number }>();
  const lineOf = (node: YamlNode | null | undefined) =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const known = new Set(settings.map((setting) => setting.key));
  const walk = (node: unknown, prefix: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const key = prefix ? `${prefix}.${name}` : name;
      if (known.has(key)) {
        const valueNode = pair.value as YamlNode | null;
        values.set(key, {
          value:
            isMap(valueNode) || isSeq(valueNode)
              ? valueNode.toJSON()
              : isScalar(valueNode)
                ? valueNode.value
                : null,
          line: lineOf((valueNode ?? pair.key) as YamlNode),
        });
      } else if (isMap(pair.value) && settings.some((setting) => setting.key.startsWith(`${key}.`))) {
        walk(pair.value, key);
      } else {
        const hint = closestKey(key);
        throw new ConfigError(
          `config: ${file}:${lineOf(pair.key as YamlNode)}: unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}`,
        );
      }
    }
  };
  if (document.contents !== null) {
    if (!isMap(document.contents)) throw new ConfigError(`config: ${file}:1: expected a mapping of settings`);
    walk(document.contents, "");
  }
  return values;
}

/**
 * The spool's default: absolute, never under the working directory. Root (the `collect` daemon, `run`
 * under sudo) uses /var/lib/rightsize/spool (the FHS's /var/lib, as systemd's StateDirectory=rightsize);
 * any other user their XDG state folder ($XDG_STATE_HOME, else ~/.local/state: XDG Base Directory
 * Specification 0.8), which only they can write.
 */
export function defaultSpoolDir(env: NodeJS.ProcessEnv, euid = process.geteuid?.() ?? 0): string {
  if (euid === 0) return "/var/lib/rightsize/spool";
  const state = env.XDG_STATE_HOME;
  const base = state && isAbsolute(state) ? state : join(env.HOME || homedir(), ".local", "state");
  return join(base, "rightsize", "spool");
}

function defaultValue(setting: Setting, env: NodeJS.ProcessEnv): unknown {
  if (setting.key === "collector.hostId") return hostname();
  if (setting.key === "collector.spoolDir") return defaultSpoolDir(env);
  return setting.default;
}

/**
 * A value as an error message shows it: a secret setting's value masked whole, a URL's password masked
 * (also in a malformed URL, which is when it is shown), so a bad `SMTP_URL` never prints its password.
 */
function showValue(setting: Setting, raw: unknown): string {
  const masked = [setting.key, setting.env ?? ""].reduce<unknown>(
    (value, name) => (typeof value === "string" && name !== "" ? maskValue(name, value) : value),
    typeof raw === "string" ? raw : JSON.stringify(raw),
  );
  return typeof raw === "string" ? JSON.stringify(masked) : String(masked);
}

/**
 * Reads the configuration once: defaults, then `file` (YAML), then `env`. Throws {@link ConfigError} with
 * one line naming the key, the value, where it came from and what is expected.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = options.env ?? process.env;
  const fromFile = options.file
    ? readFile(options.file)
    : new Map<string, { value: unknown; line: number }>();
  const result: Record<string, unknown> = {};
  for (const setting of settings) {
    let raw: unknown = defaultValue(setting, env);
    let origin: Origin = { kind: "default" };
    const fileValue = fromFile.get(setting.key);
    if (fileValue) {
      raw = fileValue.value;
      origin = { kind: "file", file: options.file!, line: fileValue.line };
    }
    const envValue = setting.env ? env[setting.env] : undefined;
    if (setting.env && envValue !== undefined && envValue !== "") {
      raw = envValue;
      origin = { kind: "env", name: setting.env };
    }
    const parsed = setting.parse.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(
        `config: ${setting.key} = ${showValue(setting, raw)} (${describeOrigin(origin)}): expected ${setting.expected}`,
      );
    }
    setPath(result, setting.key, parsed.data);
  }
  return toConfig(result);
}

/** Renames the few settings whose user-facing names carry a unit the typed config spells out. */
function toConfig(raw: Record<string, unknown>): Config {
  const value = raw as Record<string, Record<string, unknown>>;
  const analysis = value.analysis!;
  const requests = (analysis.requests as Array<ConfiguredRequest & { memory?: number }>).map(
    ({ memory, ...rest }) => ({ ...rest, ...(memory === undefined ? {} : { memoryBytes: memory }) }),
  );
  return {
    ...(value as unknown as Config),
    collector: (({ interval, ...rest }) => ({ ...rest, intervalMs: interval }))(
      value.collector!,
    ) as Config["collector"],
    analysis: {
      windowDays: analysis.window,
      maxRuns: analysis.maxRuns,
      cpuBuffer: analysis.cpuBuffer,
      memoryBuffer: analysis.memoryBuffer,
      cpuRunPercentile: analysis.cpuRunPercentile,
      memoryPeakPercentile: analysis.memoryPeakPercentile,
      requests,
    } as Config["analysis"],
    retention: {
      days: value.retention!.days,
      partitionsAheadDays: value.retention!.partitionsAhead,
    } as Config["retention"],
    metrics: (({ statsdInterval, ...rest }) => ({ ...rest, statsdIntervalMs: statsdInterval }))(
      value.metrics!,
    ) as Config["metrics"],
    check: {
      overRatio: value.check!.overRatio,
      minCpuCores: value.check!.minCpuCores,
      minMemoryBytes: value.check!.minMemory,
    } as Config["check"],
  };
}

/** The configuration reference as a Markdown table (README "Configuration" is this, checked by a test). */
export function settingsTable(): string {
  const show = (value: unknown): string => {
    if (value === null) return "(unset)";
    if (Array.isArray(value)) return value.length === 0 ? "(empty)" : `\`${value.join(",")}\``;
    return `\`${String(value)}\``;
  };
  const rows = settings.map(
    (setting) =>
      `| \`${setting.key}\` | ${setting.env ? `\`${setting.env}\`` : "–"} | ${show(setting.default)} | ${setting.description} |`,
  );
  return ["| key (YAML file) | environment | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}
