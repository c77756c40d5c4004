/**
 * The spool folder is trusted by a root process that replays it into the database: only the collector's
 * own files in a folder only it can write are read; everything else named like a segment is quarantined
 * once, never followed, never blocked on, never retried.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openSpool, pidOfExitedProcess, replayAll, useTempDirs } from "../../test-support/spool-fixtures.js";
import { inspectSpool, SpoolFolderUntrustedError } from "./spool.js";

const tempDir = useTempDirs("rightsize-spool-trust-");
/** A pid no live process has: segments named after it belong to nobody and are adopted. */
const deadPid = pidOfExitedProcess();
const isRoot = process.geteuid?.() === 0;

describe("spool folder trust", () => {
  it("makes its folders 0700 and its files 0600", () => {
    const dir = join(tempDir(), "a", "spool");
    const spool = openSpool(dir);
    spool.append({ n: 1 });
    const [segment] = spool.segments();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(segment!).mode & 0o777).toBe(0o600);
    const rejected = spool.reject({ bad: true });
    expect(statSync(join(dir, "rejected")).mode & 0o777).toBe(0o700);
    expect(statSync(rejected).mode & 0o777).toBe(0o600);
  });

  it("refuses a relative folder", () => {
    expect(() => openSpool("relative/spool")).toThrow(SpoolFolderUntrustedError);
  });

  it("refuses a folder writable by others, naming it", () => {
    const dir = tempDir();
    chmodSync(dir, 0o777);
    expect(() => openSpool(dir)).toThrow(new RegExp(`${dir}: writable by others`));
  });

  it("refuses a folder under a parent others may write (no sticky bit)", () => {
    const parent = tempDir();
    chmodSync(parent, 0o777);
    expect(() => openSpool(join(parent, "spool"))).toThrow(/writable by others/);
  });

  it("refuses a folder that is a link", () => {
    const base = tempDir();
    mkdirSync(join(base, "real"), { mode: 0o700 });
    symlinkSync(join(base, "real"), join(base, "link"));
    expect(() => openSpool(join(base, "link"))).toThrow(/not a directory/);
  });

  it.runIf(isRoot)("refuses a folder owned by another user", () => {
    const dir = tempDir();
    chownSync(dir, 1000, 1000);
    expect(() => openSpool(dir)).toThrow(/owned by uid 1000/);
  });

  it("tightens a folder of its own that others can read", () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    openSpool(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("never appends through a link planted as rejected/records.spool", () => {
    const dir = tempDir();
    const victim = join(tempDir(), "victim");
    writeFileSync(victim, "precious\n");
    mkdirSync(join(dir, "rejected"), { mode: 0o700 });
    symlinkSync(victim, join(dir, "rejected", "records.spool"));
    const spool = openSpool(dir);
    const file = spool.reject({ bad: true });
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(statSync(file).isFile()).toBe(true);
    expect(spool.stats().quarantined).toBe(1);
  });

  it("quarantines a segment that is a link instead of reading (or removing) its target", () => {
    const dir = tempDir();
    const victim = join(tempDir(), "victim");
    writeFileSync(victim, "00000000\t{}\n");
    symlinkSync(victim, join(dir, `segment-000000000001-${deadPid}.spool`));
    const spool = openSpool(dir);
    spool.append({ n: 1 });
    expect(replayAll(spool)).toEqual([{ n: 1 }]);
    expect(readFileSync(victim, "utf8")).toBe("00000000\t{}\n");
    expect(spool.stats().quarantined).toBe(1);
    expect(readdirSync(join(dir, "quarantine"))).toHaveLength(1);
  });

  it("quarantines a folder named like a segment once, instead of retrying it every flush", () => {
    const dir = tempDir();
    mkdirSync(join(dir, `segment-000000000001-${deadPid}.spool`));
    const spool = openSpool(dir);
    expect(spool.hasRecords()).toBe(false);
    spool.append({ n: 2 });
    expect(replayAll(spool)).toEqual([{ n: 2 }]);
    expect(replayAll(spool)).toEqual([]);
    expect(spool.stats().quarantined).toBe(1);
    expect(existsSync(join(dir, `segment-000000000001-${deadPid}.spool`))).toBe(false);
  });

  it.runIf(isRoot)("quarantines a segment written by another user", () => {
    const dir = tempDir();
    const forged = join(dir, `segment-000000000001-${deadPid}.spool`);
    writeFileSync(forged, "", { mode: 0o600 });
    chownSync(forged, 1000, 1000);
    const spool = openSpool(dir);
    expect(replayAll(spool)).toEqual([]);
    expect(spool.stats().quarantined).toBe(1);
  });

  it("a FIFO named like a segment does not block the event loop: quarantined", () => {
    // In a child process: a blocking open of a FIFO with no writer would freeze this very test runner.
    const dir = tempDir();
    const fifo = join(dir, `segment-000000000001-${deadPid}.spool`);
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const spoolModule = fileURLToPath(new URL("./spool.ts", import.meta.url));
    const loggerModule = fileURLToPath(new URL("../../common/logger.ts", import.meta.url));
    const script = `
      const { Spool } = await import(${JSON.stringify(spoolModule)});
      const { silentLogger } = await import(${JSON.stringify(loggerModule)});
      const spool = new Spool({ dir: ${JSON.stringify(dir)}, maxBytes: 1 << 20, logger: silentLogger });
      for (const segment of spool.segments()) spool.read(segment);
      process.stdout.write(JSON.stringify(spool.stats()));`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.signal, child.stderr).toBeNull();
    expect(JSON.parse(child.stdout)).toMatchObject({ quarantined: 1, segments: 0 });
  });

  it("status inspection reads the folder without creating it", () => {
    const dir = join(tempDir(), "never-made");
    expect(inspectSpool(dir)).toMatchObject({ exists: false, segments: 0, bytes: 0 });
    expect(existsSync(dir)).toBe(false);
    const spool = openSpool(dir);
    spool.append({ n: 1 });
    spool.close();
    const seen = inspectSpool(dir);
    expect(seen).toMatchObject({ exists: true, segments: 1, quarantined: 0 });
    expect(seen.bytes).toBeGreaterThan(0);
  });
});
