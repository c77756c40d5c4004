/**
 * Integration tests need the real Postgres and Redis. Fail once, early, with the command that starts
 * them, instead of letting every test time out.
 */
import { connect } from "node:net";
import { postgresAdminUrl, redisUrl } from "./services.js";

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || defaultPort) });
    socket.setTimeout(3000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export default async function setup(): Promise<void> {
  const missing: string[] = [];
  if (!(await reachable(postgresAdminUrl, 5432))) missing.push(`Postgres (${postgresAdminUrl})`);
  if (!(await reachable(redisUrl, 6379))) missing.push(`Redis (${redisUrl})`);
  if (missing.length > 0) {
    throw new Error(
      `integration tests need ${missing.join(" and ")}; see README "Tests" for how to start them`,
    );
  }
}
