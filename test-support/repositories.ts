/**
 * Scratch repositories for the sources tests: a temp folder per test file, files written into it, and git
 * with a fixed author (what `git apply --check` of a patch runs against).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/** A temp folder (its real path) made before the file's tests and removed after them; read it in a test. */
export function useScratchFolder(prefix: string): () => string {
  let folder: string | undefined;
  beforeAll(() => {
    folder = realpathSync(mkdtempSync(join(tmpdir(), `rightsize-${prefix}-`)));
  });
  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });
  return () => {
    if (!folder) throw new Error("useScratchFolder: read in a test or hook, after beforeAll");
    return folder;
  };
}

/** Writes `files` (path → text) under `folder` and returns `folder`. */
export function writeRepository(folder: string, files: Record<string, string>): string {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, file)), { recursive: true });
    writeFileSync(join(folder, file), text);
  }
  return folder;
}

/** git in `cwd`, as a fixed author, its output as text; throws on a non-zero exit. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@localhost",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@localhost",
    },
  });
}

/** `files` written under `folder` and committed on `main` in a new repository; returns `folder`. */
export function committedRepository(folder: string, files: Record<string, string>): string {
  writeRepository(folder, files);
  git(folder, "init", "-q", "-b", "main");
  git(folder, "add", ".");
  git(folder, "commit", "-q", "-m", "fixture");
  return folder;
}

/**
 * `files` committed in a new repository under `folder`, with `patch` applied after `git apply --check`
 * accepted it (the exact diff `patch` writes must apply to the files as they were); returns `folder`.
 */
export function patchedRepository(folder: string, files: Record<string, string>, patch: string): string {
  committedRepository(folder, files);
  const patchFile = `${folder}.patch`;
  writeFileSync(patchFile, patch);
  git(folder, "apply", "--check", patchFile);
  git(folder, "apply", patchFile);
  return folder;
}

/**
 * What the tool that owns the format reads: `script` runs under Debian's python3 with PyYAML
 * (python3-yaml), gets `paths` as sys.argv[1:] and prints JSON, which is returned parsed.
 */
export function readWithPyYaml(script: string, paths: string[]): unknown {
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, ...paths], { encoding: "utf8" }));
}
