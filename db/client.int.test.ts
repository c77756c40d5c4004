import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../common/errors.js";
import { runCli } from "../test-support/cli.js";
import { openDatabase, parseDatabaseUrl } from "./client.js";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A loopback TCP server that accepts connections and never answers: a hung database. */
async function silentServer(): Promise<number> {
  const server = createServer(() => {});
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

describe("openDatabase", () => {
  it("reads postgres URLs, pglite URLs and folder paths", () => {
    expect(parseDatabaseUrl("postgres://u@h:5/d")).toEqual({ kind: "postgres", url: "postgres://u@h:5/d" });
    expect(parseDatabaseUrl("pglite:///var/lib/rs")).toEqual({ kind: "pglite", folder: "/var/lib/rs" });
    expect(parseDatabaseUrl("/tmp/x")).toEqual({ kind: "pglite", folder: "/tmp/x" });
    expect(() => parseDatabaseUrl("mysql://h/d")).toThrow(/unsupported database URL scheme in 'mysql:\/\/…'/);
  });

  it("fails fast naming host and port when nothing listens", async () => {
    await expect(openDatabase("postgres://postgres@127.0.0.1:1/test")).rejects.toThrow(
      /cannot connect to Postgres at 127\.0\.0\.1:1\/test: .*ECONNREFUSED/,
    );
  });

  it("gives up on a server that never answers within the connect timeout", async () => {
    const port = await silentServer();
    const started = Date.now();
    const error = await openDatabase(`postgres://postgres@127.0.0.1:${port}/test`, {
      connectTimeoutSeconds: 2,
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toBe(
      `cannot connect to Postgres at 127.0.0.1:${port}/test: no answer within 2 s`,
    );
    // Bounded: it gave up, it did not hang until the test's own timeout.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("the CLI exits 1 naming host and port within 10 s on a hung server", async () => {
    const port = await silentServer();
    // Killed at 10 s: a signal instead of an exit code would mean it hung past the bound.
    const result = await runCli(["status", "--db", `postgres://postgres@127.0.0.1:${port}/test`], {
      timeoutMs: 10_000,
    });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `cannot connect to Postgres at 127.0.0.1:${port}/test: no answer within 8 s`,
    );
  });

  it("serves an embedded folder it owns to other processes, and frees it on close", async () => {
    const folder = join(mkdtempSync(join(tmpdir(), "rightsize-lock-")), "db");
    const first = await openDatabase(folder);
    expect(first.embedded).toEqual({ role: "owner", ownerPid: process.pid });
    try {
      const result = await runCli(["status", "--db", folder]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`pglite ${folder} (through process ${process.pid})`);
    } finally {
      await first.close();
    }
    // Released on close: the next open owns it again.
    const again = await openDatabase(folder);
    expect(again.embedded?.role).toBe("owner");
    await again.close();
  });

  it("takes over a lock left by a process that is gone", async () => {
    const folder = join(mkdtempSync(join(tmpdir(), "rightsize-stale-")), "db");
    writeFileSync(`${folder}.lock`, "999999999");
    const handle = await openDatabase(folder);
    await handle.close();
  });

  it("names the folder of a corrupt embedded database", async () => {
    const folder = join(mkdtempSync(join(tmpdir(), "rightsize-corrupt-")), "db");
    mkdirSync(join(folder, "global"), { recursive: true });
    writeFileSync(join(folder, "PG_VERSION"), "17\n");
    writeFileSync(join(folder, "global", "pg_control"), "not a control file");
    await expect(openDatabase(folder)).rejects.toThrow(
      new RegExp(`cannot open embedded database ${folder}: .*the folder may be corrupt`),
    );
  });
});
