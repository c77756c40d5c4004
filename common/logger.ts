import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { maskUrlCredentials, maskValue, REDACTED } from "./mask-secrets.js";

export type { Logger } from "pino";

/**
 * Fields whose value is a secret wherever they appear in a log object, top level or one level down
 * (pino `redact` paths, fast-redact syntax: https://getpino.io/#/docs/redaction).
 */
const SECRET_FIELDS = [
  "password",
  "pass",
  "secret",
  "token",
  "apiKey",
  "authorization",
  "cookie",
  "githubToken",
  "smtpPassword",
];
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "*.headers.authorization",
  "*.headers.cookie",
  "auth.pass",
  "*.auth.pass",
];

/** Deepest level of a log object whose strings are looked at for URL passwords (log objects are shallow). */
const MASK_DEPTH = 4;

/** A copy of an error with URL passwords masked in its message and stack (pino serializes it as usual). */
function maskError(error: Error): Error {
  const copy = new Error(maskUrlCredentials(error.message));
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : maskUrlCredentials(error.stack);
  return copy;
}

/**
 * A log object with URL passwords masked in its strings (`{ url: "postgres://u:pw@db" }`, an error whose
 * message quotes a URL) and secret-named fields the redact paths do not reach masked whole.
 */
function maskLogValue(name: string, value: unknown, depth: number): unknown {
  if (typeof value === "string") return maskValue(name, value);
  if (depth >= MASK_DEPTH || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return maskError(value);
  if (Array.isArray(value)) return value.map((item) => maskLogValue(name, item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, maskLogValue(key, item, depth + 1)]),
  );
}

/** The options every rightsize logger shares: secret fields and URL passwords never reach a log line. */
function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    formatters: { log: (object) => maskLogValue("", object, 0) as Record<string, unknown> },
    hooks: {
      // The message itself: `logger.info("connected to %s", url)` and plain strings.
      logMethod(args, method) {
        const masked = args.map((arg) =>
          typeof arg === "string" ? maskUrlCredentials(arg) : arg instanceof Error ? maskError(arg) : arg,
        );
        method.apply(this, masked as Parameters<typeof method>);
      },
    },
  };
}

/**
 * The process logger: JSON lines when stderr is not a terminal (collectors and workers feed log
 * pipelines), readable colored lines when it is. Logs go to stderr so stdout stays for command output.
 *
 * @param level - pino level; `LOG_LEVEL` is read by the config loader, not here.
 * @param destination - where JSON lines go (tests); stderr by default.
 */
export function createLogger(
  level = "info",
  pretty = process.stderr.isTTY === true,
  destination?: DestinationStream,
): Logger {
  if (pretty && destination === undefined) {
    return pino({
      ...loggerOptions(level),
      transport: {
        target: "pino-pretty",
        options: { destination: 2, colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" },
      },
    });
  }
  return pino(loggerOptions(level), destination ?? pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
