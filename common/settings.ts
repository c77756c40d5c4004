/**
 * Every configuration setting, one row each: its key in the YAML file, its environment variable, its
 * default, what it means and its parser (common/setting-parsers.ts). The loader (common/config.ts), the
 * README's configuration reference ({@link settingsTable}) and the compose-file check read this one
 * table, so a setting documented is a setting that exists.
 */
import { resolve as resolvePath } from "node:path";
import {
  boolean,
  bytes,
  days,
  duration,
  fraction,
  hostPort,
  imagePaths,
  inRange,
  list,
  matching,
  numeric,
  oneOf,
  optionalText,
  percentile,
  positiveInt,
  price,
  priceHistory,
  requests,
  text,
  converted,
  timezone,
  url,
  where,
  type SettingParser,
} from "./setting-parsers.js";

/** One configuration setting. */
export interface Setting {
  /** `section.name`: the dotted path in the YAML file and in the parsed settings ({@link ParsedSettings}). */
  key: string;
  /** Environment variable that overrides the file, if any. */
  env?: string;
  /** Default, as a user would write it. */
  default: unknown;
  description: string;
  /** What a valid value looks like, for error messages. */
  expected: string;
  parse: SettingParser;
}

/**
 * The longest delay a Node timer holds: setTimeout/setInterval take a signed 32-bit millisecond count
 * and fire after 1 ms beyond it (Node docs, timers "setTimeout": "When delay is larger than 2147483647
 * or less than 1, the delay will be set to 1"), which turned `--interval 25d` into a busy loop.
 */
export const MAX_TIMER_MS = 2_147_483_647;
/** `collector.trust` entries (collector/attribution/trust.ts reads them). */
export const TRUST_ENTRY =
  /^(any|root|system-services|containers|uid:\d{1,10}|user:[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;
/** HOST:PORT (IPv4, [IPv6] or a name) with a TCP port. */
export const LISTEN_ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * The rows, each with its own key and parser types (`as const`): {@link ParsedSettings} is derived from
 * them. Readers that only walk the table use {@link settings}.
 */
const rows = [
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
    parse: oneOf("trace", "debug", "info", "warn", "error", "fatal", "silent"),
  },
  {
    key: "collector.interval",
    env: "RIGHTSIZE_INTERVAL",
    default: "1s",
    expected: "a duration such as 1s or 500ms",
    description: "Sampling tick of `collect` and `run`: 50ms to 24d (the longest a Node timer waits).",
    parse: where(duration, (ms) => ms >= 50 && ms <= MAX_TIMER_MS),
  },
  {
    key: "collector.spoolDir",
    env: "RIGHTSIZE_SPOOL_DIR",
    default:
      "(root: /var/lib/rightsize/spool; others: $XDG_STATE_HOME/rightsize/spool; an embedded database: its own embedded/HASH folder there)",
    expected: "a folder path",
    description:
      "Where samples wait on disk while the database is unreachable: a folder only this user can write (docs/collector-storage.md). A relative path is taken from the working directory at start.",
    parse: converted(text, (path) => resolvePath(path)),
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
    parse: where(list, (entries) => entries.length > 0 && entries.every((entry) => TRUST_ENTRY.test(entry))),
  },
  {
    key: "collector.metricsListen",
    env: "RIGHTSIZE_METRICS_LISTEN",
    default: null,
    expected: "HOST:PORT such as 127.0.0.1:9464",
    description:
      "Prometheus metrics endpoint of `collect` (/metrics, OpenMetrics when the scraper asks; /healthz, /readyz). Unset: off.",
    parse: where(
      optionalText,
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
    parse: oneOf("auto", "acct", "poll"),
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
    parse: where(text, (value) => value === "auto" || value === "off" || /^https?:\/\/./.test(value)),
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
    key: "analysis.policy",
    env: "RIGHTSIZE_POLICY",
    default: "rightsize",
    expected: "one of rightsize, vpa, krr-simple, kubecost, max-seen",
    description:
      "The sizing policy recommendations follow (docs/analyzer.md \"Backtest\"): rightsize's own, or VPA's, KRR's simple, Kubecost's, the largest ever seen.",
    parse: oneOf("rightsize", "vpa", "krr-simple", "kubecost", "max-seen"),
  },
  {
    key: "analysis.maxOverMemoryShare",
    env: "RIGHTSIZE_MAX_OVER_MEMORY_SHARE",
    default: 0.01,
    expected: "a fraction from 0 to 1 such as 0.01",
    description:
      "Risk target: a memory cut is not proposed when, out of sample, more than this share of the newest runs would have exceeded it (0.01 = 1 run in 100).",
    parse: inRange(0, 1),
  },
  {
    key: "analysis.requests",
    default: [],
    expected: "a list of { pipeline, task?, orchestrator?, cpuCores?, memory? }",
    description: "Requests for tasks whose DAG/flow files declare none (YAML file only).",
    parse: requests,
  },
  {
    key: "fleet.weeks",
    env: "RIGHTSIZE_FLEET_WEEKS",
    default: 8,
    expected: "a whole number above 0",
    description: "How many weeks of run summaries `rightsize fleet` prices and explains (docs/fleet.md).",
    parse: positiveInt,
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
    key: "pricing.history",
    default: [],
    expected: "a list of { from: DATE, cpuHourUsd?, memoryGibHourUsd? }, dates in increasing order",
    description:
      "Price changes, each from the day it took effect (YAML file only): `pricing.cpuHourUsd` and `pricing.memoryGibHourUsd` hold before the first entry, and each entry sets the prices it names from its `from` date on. Every run is priced as it started; the night prices at its window's end (docs/fleet.md).",
    parse: priceHistory,
  },
  {
    key: "schedule.cron",
    env: "RIGHTSIZE_CRON",
    default: "0 2 * * *",
    expected: "a cron pattern such as '0 2 * * *'",
    description: "When the nightly analysis fires.",
    parse: matching(/^\S+(\s+\S+){4,5}$/),
  },
  {
    key: "schedule.timezone",
    env: "RIGHTSIZE_TZ",
    default: "UTC",
    expected: "an IANA time zone such as Europe/Berlin",
    description: "Time zone of the cron pattern.",
    parse: timezone,
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
    description:
      "Sample partitions older than this are dropped by the maintenance job; a run's summary outlives them.",
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
    key: "retention.processes",
    env: "RIGHTSIZE_RETENTION_PROCESSES",
    // The default analysis window: the night reads a window's per-process rows, older runs their rollup.
    default: "14d",
    expected: "a duration such as 14d",
    description:
      "Per-process rows of runs that started longer ago than this are deleted by the maintenance job; each run's per-command rollup stays as long as the run (retention.runs).",
    parse: days,
  },
  {
    key: "retention.hostSamples",
    env: "RIGHTSIZE_RETENTION_HOST_SAMPLES",
    // As long as the samples they are read beside (retention.days).
    default: "30d",
    expected: "a duration such as 30d",
    description:
      "Host samples (what each host did each tick) older than this are deleted by the maintenance job.",
    parse: days,
  },
  {
    key: "retention.runs",
    env: "RIGHTSIZE_RETENTION_RUNS",
    // Chosen value: a year of runs for `fleet --weeks 52` and a month's margin; a run keeps about 3 kB
    // once its per-process rows are gone (BENCHMARKS.md "ingest", storage over time).
    default: "400d",
    expected:
      "a duration such as 400d, at least each of retention.days, retention.processes and retention.hostSamples",
    description:
      "Runs that started longer ago than this are deleted with their summaries and per-command rollups, and analyses and report records older than this too, by the maintenance job.",
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
    parse: matching(/^https?:\/\//),
  },
  {
    key: "github.repo",
    env: "RIGHTSIZE_GITHUB_REPO",
    default: null,
    expected: "OWNER/REPO",
    description: "Repository `pr` opens pull requests on when --github is not given.",
    parse: where(optionalText, (value) => value === null || /^[\w.-]+\/[\w.-]+$/.test(value)),
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
    parse: where(numeric, (value) => value > 1),
  },
  {
    key: "check.minCpuCores",
    env: "RIGHTSIZE_CHECK_MIN_CPU",
    default: 0.5,
    expected: "cores such as 0.5",
    description: "…and only when it is also at least this many cores more…",
    parse: where(numeric, (value) => value >= 0),
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
    key: "sources.imagePaths",
    env: "RIGHTSIZE_IMAGE_PATHS",
    default: [],
    expected:
      "IMAGE_FOLDER=REPOSITORY_FOLDER pairs, comma-separated or a YAML list (/opt/airflow/pod_templates=deploy/pod_templates)",
    description:
      "Where folders of the worker's image come from in the DAG repository, for pod_template_file paths inside the image. Unset: the path's longest tail in the repository, else the only file of its name.",
    parse: imagePaths,
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
    parse: oneOf("none", "dogstatsd", "telegraf"),
  },
  {
    key: "metrics.statsdPrefix",
    env: "RIGHTSIZE_STATSD_PREFIX",
    default: "airflow",
    expected: "a StatsD name prefix (letters, digits, _ . -), or empty",
    description:
      "Prefix of StatsD names; Airflow's `[metrics] statsd_prefix` default, so existing dashboards match.",
    parse: matching(/^[A-Za-z0-9_.-]*$/),
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
] as const satisfies readonly Setting[];

export const settings: readonly Setting[] = rows;

type Row = (typeof rows)[number];
type SectionOf<Key> = Key extends `${infer Name}.${string}` ? Name : never;

/**
 * What the table parses a configuration into: one object per section, one entry per row, typed by the
 * row's parser (`collector.interval` → `{ collector: { interval: number } }`). The loader
 * (common/config.ts) names a few of them for the units it spells out.
 */
export type ParsedSettings = {
  [S in SectionOf<Row["key"]>]: {
    [R in Row as R["key"] extends `${S}.${infer Name}` ? Name : never]: ReturnType<R["parse"]>;
  };
};

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
