import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/**
 * The process logger: JSON lines when stderr is not a terminal (collectors and workers feed log
 * pipelines), readable colored lines when it is. Logs go to stderr so stdout stays for command output.
 *
 * @param level - pino level; `LOG_LEVEL` is read by the config loader, not here.
 */
export function createLogger(level = "info", pretty = process.stderr.isTTY === true): Logger {
  if (pretty) {
    return pino({
      level,
      transport: {
        target: "pino-pretty",
        options: { destination: 2, colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" },
      },
    });
  }
  return pino({ level }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
