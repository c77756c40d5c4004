/**
 * The embedded database's owner serves other rightsize processes on the host: a Postgres wire-protocol
 * server on a Unix socket that hands each client's messages to PGlite (`execProtocolRaw`) and its answers
 * back.
 *
 * PGlite is one backend with one session, so clients take turns: a turn starts with a client's first
 * message and lasts until PGlite answers ReadyForQuery "idle" (the end of a simple query, of an extended
 * query's Sync, or of a whole transaction). During a turn it holds PGlite's transaction mutex, so the
 * owner's own queries and transactions wait too; nothing of two sessions interleaves, including the
 * unnamed prepared statement of the extended protocol (clients connect with `prepare: false`).
 *
 * The same idea as @electric-sql/pglite-socket (packages/pglite-socket/src/index.ts in electric-sql/pglite),
 * which queues single messages and keeps a client's turn only inside an explicit transaction; see
 * docs/collector-storage.md for why rightsize has its own.
 *
 * Message framing follows the protocol's "Message Formats" chapter (postgresql.org/docs/17/protocol-message-formats.html):
 * a startup-phase message is an Int32 length then the body; every later message is a type byte, an Int32
 * length (counting itself) and the body.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { describeError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";

/** Request codes of the startup phase (protocol-message-formats: SSLRequest, GSSENCRequest, CancelRequest). */
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

/**
 * A client that holds a transaction open and sends nothing for this long is disconnected (and its
 * transaction rolled back), so one stuck process cannot stop every other writer. Chosen value: rightsize
 * itself never holds a transaction across a pause; a minute is far beyond any write it makes.
 */
const IDLE_IN_TURN_MS = 60_000;

/** PGlite's single-user backend exits when asked for COPY FROM STDIN; refused before it gets there. */
const COPY_FROM_STDIN = /\bcopy\b[\s\S]*\bfrom\s+stdin\b/i;

export interface EmbeddedServer {
  /** Clients connected now. */
  connections(): number;
  /** Lets clients' messages through (held until the database is open and migrated). */
  open(pglite: PGlite): void;
  /**
   * Waits until every client has disconnected, at most `drainMs`, then disconnects whoever is left (after
   * their current turn) and removes the socket.
   */
  close(drainMs: number): Promise<void>;
}

/** Builds an ErrorResponse ('E') with severity, SQLSTATE and message. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`SERROR\0VERROR\0C${code}\0M${message}\0`, "utf8"),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write("E", 0, "latin1");
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

function readyForQuery(status: "I" | "T" | "E"): Buffer {
  return Buffer.from([0x5a, 0, 0, 0, 5, status.charCodeAt(0)]);
}

/** The transaction status of the last ReadyForQuery ('Z') in a backend answer, or null when there is none. */
export function lastReadyStatus(answer: Uint8Array): string | null {
  const view = Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength);
  let status: string | null = null;
  for (let offset = 0; offset + 5 <= view.length;) {
    const length = view.readInt32BE(offset + 1);
    if (view[offset] === 0x5a && length === 5 && offset + 6 <= view.length) {
      status = String.fromCharCode(view[offset + 5]!);
    }
    offset += 1 + length;
  }
  return status;
}

/** The query text of a Query ('Q') or Parse ('P') message, for the COPY guard. */
function queryText(message: Buffer): string | null {
  const type = message[0];
  if (type === 0x51) return message.toString("utf8", 5, message.length - 1);
  if (type === 0x50) {
    const nameEnd = message.indexOf(0, 5);
    if (nameEnd < 0) return null;
    const textEnd = message.indexOf(0, nameEnd + 1);
    return message.toString("utf8", nameEnd + 1, textEnd < 0 ? message.length : textEnd);
  }
  return null;
}

/** One client connection: reassembles its messages and runs them in turns. */
class Session {
  private buffer: Buffer = Buffer.alloc(0);
  private startup = true;
  private readonly messages: Buffer[] = [];
  private wake: (() => void) | null = null;
  private running = false;
  private closed = false;
  /** After a refused extended-protocol message: skip until Sync, as the backend itself would. */
  private discardUntilSync = false;
  /** Resolves when the current turn (if any) has given PGlite back. */
  turnDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: Socket,
    private readonly database: () => Promise<PGlite>,
    private readonly logger: Logger,
    private readonly onEnd: (session: Session) => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => this.end());
    socket.on("close", () => this.end());
  }

  /** Ends the connection once its current turn (if any) is over. */
  disconnect(): void {
    this.socket.end();
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    void this.turnDone.then(() => {
      this.socket.destroy();
      this.onEnd(this);
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.startup) {
        if (this.buffer.length < 8) break;
        const length = this.buffer.readInt32BE(0);
        if (length < 8 || length > 10_000) return this.disconnect();
        if (this.buffer.length < length) break;
        const code = this.buffer.readInt32BE(4);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          // "N": no encryption; a Unix socket with 0600 permissions needs none.
          this.socket.write("N");
          continue;
        }
        // PGlite has no backend to signal: a cancel request is answered by closing, as Postgres does.
        if (code === CANCEL_REQUEST) return this.disconnect();
        this.startup = false;
        this.queue(Buffer.from(message));
        continue;
      }
      if (this.buffer.length < 5) break;
      const length = 1 + this.buffer.readInt32BE(1);
      if (length < 5) return this.disconnect();
      if (this.buffer.length < length) break;
      const message = Buffer.from(this.buffer.subarray(0, length));
      this.buffer = this.buffer.subarray(length);
      // Terminate: PGlite's backend would exit on it; the connection ends here instead.
      if (message[0] === 0x58) return this.disconnect();
      this.queue(message);
    }
  }

  private queue(message: Buffer): void {
    this.messages.push(message);
    if (this.wake) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
    if (!this.running) void this.pump();
  }

  /** Runs turns while messages wait. */
  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.messages.length > 0 && !this.closed) {
        const pglite = await this.database();
        let finish!: () => void;
        this.turnDone = new Promise((resolve) => (finish = resolve));
        try {
          await pglite._runExclusiveTransaction(() => this.turn(pglite));
        } finally {
          finish();
        }
      }
    } catch (error) {
      this.logger.error({ err: describeError(error) }, "embedded database server: a client's turn failed");
      this.disconnect();
    } finally {
      this.running = false;
    }
  }

  private nextMessage(): Promise<Buffer | null> {
    if (this.closed) return Promise.resolve(null);
    const message = this.messages.shift();
    if (message) return Promise.resolve(message);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        this.logger.warn("embedded database server: a client held a transaction idle too long; disconnected");
        resolve(null);
      }, IDLE_IN_TURN_MS);
      this.wake = () => {
        clearTimeout(timer);
        resolve(this.messages.shift() ?? null);
      };
    });
  }

  /** One turn: messages until PGlite is idle again (outside any transaction). */
  private async turn(pglite: PGlite): Promise<void> {
    let pipelineOpen = false;
    for (;;) {
      const message = await this.nextMessage();
      if (message === null) {
        await this.abandon(pglite, pipelineOpen);
        return;
      }
      const answer = await this.execute(pglite, message);
      if (answer.length > 0 && !this.closed) this.socket.write(answer);
      const status = lastReadyStatus(answer);
      if (status === null) pipelineOpen = true;
      else {
        pipelineOpen = false;
        if (status === "I") return;
      }
    }
  }

  private async execute(pglite: PGlite, message: Buffer): Promise<Buffer> {
    const type = message[0];
    if (this.discardUntilSync) {
      if (type !== 0x53) return Buffer.alloc(0);
      this.discardUntilSync = false;
      return readyForQuery(pglite.isInTransaction() ? "T" : "I");
    }
    const text = queryText(message);
    if (text !== null && COPY_FROM_STDIN.test(text)) {
      const refusal = errorResponse(
        "0A000",
        "COPY FROM STDIN is not available through the embedded database's owner",
      );
      if (type === 0x51) return Buffer.concat([refusal, readyForQuery(pglite.isInTransaction() ? "T" : "I")]);
      this.discardUntilSync = true;
      return refusal;
    }
    const answer = await pglite._runExclusiveQuery(() => pglite.execProtocolRaw(message));
    // A copy: the answer may be a view into PGlite's memory, reused by the next call.
    return Buffer.from(answer);
  }

  /** A client left mid-turn: close its extended-protocol pipeline and roll back its transaction. */
  private async abandon(pglite: PGlite, pipelineOpen: boolean): Promise<void> {
    try {
      if (pipelineOpen) await pglite._runExclusiveQuery(() => pglite.execProtocolRaw(readySync()));
      if (pglite.isInTransaction()) await pglite._runExclusiveQuery(() => pglite.exec("rollback"));
    } catch (error) {
      this.logger.error(
        { err: describeError(error) },
        "embedded database server: cannot clean up after a client",
      );
    }
    this.disconnect();
  }
}

/** A Sync ('S') message. */
function readySync(): Uint8Array {
  return new Uint8Array([0x53, 0, 0, 0, 4]);
}

/**
 * Listens on `socketPath` (removing a stale socket first: the caller holds the folder's lock) with mode
 * 0600. Clients may connect at once; their messages wait until {@link EmbeddedServer.open}.
 */
export async function startEmbeddedServer(socketPath: string, logger: Logger): Promise<EmbeddedServer> {
  rmSync(socketPath, { force: true });
  let ready!: (pglite: PGlite) => void;
  const opened = new Promise<PGlite>((resolve) => (ready = resolve));
  const sessions = new Set<Session>();
  let emptied: (() => void) | null = null;
  const server: Server = createServer((socket) => {
    const session = new Session(
      socket,
      () => opened,
      logger,
      (ended) => {
        sessions.delete(ended);
        if (sessions.size === 0) emptied?.();
      },
    );
    sessions.add(session);
  });
  // The socket file gets the process umask's permissions at bind: 0177 makes it 0600 from the first
  // moment, before the chmod below makes sure of it.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(socketPath, 0o600);
  server.on("error", (error) => logger.error({ err: describeError(error) }, "embedded database server"));
  return {
    connections: () => sessions.size,
    open: (pglite) => ready(pglite),
    async close(drainMs) {
      if (sessions.size > 0) {
        logger.debug({ clients: sessions.size }, "embedded database owner: waiting for clients to finish");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          emptied = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // server.close() calls back once every connection has ended, so the stragglers are let go first.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(socketPath, { force: true });
      const left = [...sessions];
      for (const session of left) session.disconnect();
      await Promise.all(left.map((session) => session.turnDone));
      await closed;
    },
  };
}
