/**
 * Error classes that carry meaning across rooms. The CLI maps them to exit codes: {@link UsageError} and
 * {@link ConfigError} exit 2, {@link CommandExitError} its own documented code, everything else exits 1.
 */
import { maskUrlCredentials } from "./mask-secrets.js";

/** A flag, argument or input file the user gave is wrong. Exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A configuration value (file or environment) is wrong. Exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * A command ends with an outcome that has its own documented exit code (e.g. `check` exits 3 when it
 * found nothing to judge). The message is printed as one line on stderr.
 */
export class CommandExitError extends Error {
  override name = "CommandExitError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** The database cannot be reached or opened. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/**
 * No live process owns the embedded database, and the caller asked not to become its owner (`run`: its
 * rows go to the spool for the next owner or reader, db/embedded.ts).
 */
export class NoEmbeddedOwnerError extends DatabaseUnavailableError {
  override name = "NoEmbeddedOwnerError";
  constructor(readonly folder: string) {
    super(`no rightsize process owns embedded database ${folder}`);
  }
}

/** Turns anything thrown into an Error, so catch blocks can rely on `.message` and `.stack`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  try {
    return new Error(`non-error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error(`non-error thrown: ${String(thrown)}`);
  }
}

/**
 * The message of an error and of every `cause` below it, joined: what a user needs on one line. URL
 * passwords in any of them are masked (a driver's error may quote the URL it was given), and line breaks
 * are shown as `\n`.
 */
export function describeError(thrown: unknown): string {
  const parts: string[] = [];
  let current: unknown = thrown;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const error = coerceError(current);
    if (!parts.some((part) => part.includes(error.message))) parts.push(error.message);
    current = error.cause;
  }
  // One line: a line break in a name quoted by a message would start a line of its own, where a CI
  // runner reads `::error::…` as a workflow command.
  return maskUrlCredentials(parts.join(": ")).replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}
