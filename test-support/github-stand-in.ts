/**
 * A stand-in for the part of the GitHub REST API `rightsize pr` calls, on 127.0.0.1, for the repository
 * acme/dags: lists the open pull requests of a head branch, opens one (#7, #8, …) for every POST, updates
 * one on PATCH, and records every request with its JSON body.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown> | null;
}

export interface GithubStandIn {
  server: Server;
  url: string;
  requests: RecordedRequest[];
  /** Bodies of the pull requests opened, in order. */
  opened: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

function read(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    request.on("data", (chunk) => {
      data += chunk;
    });
    request.on("end", () => resolve(data));
  });
}

export async function startGithubStandIn(): Promise<GithubStandIn> {
  const requests: RecordedRequest[] = [];
  const opened: Array<Record<string, unknown>> = [];
  const open: Array<{ number: number; head: string }> = [];
  const server = createServer(async (request, response) => {
    const text = await read(request);
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    requests.push({
      method: request.method!,
      url: request.url!,
      authorization: request.headers.authorization,
      body,
    });
    const url = new URL(request.url!, "http://127.0.0.1");
    response.setHeader("content-type", "application/json");
    if (request.method === "GET" && url.pathname === "/repos/acme/dags/pulls") {
      const head = url.searchParams.get("head")?.split(":")[1];
      response.end(
        JSON.stringify(open.filter((pull) => pull.head === head).map((pull) => ({ number: pull.number }))),
      );
      return;
    }
    if (request.method === "POST" && url.pathname === "/repos/acme/dags/pulls") {
      const number = 7 + open.length;
      open.push({ number, head: String(body?.head) });
      opened.push(body ?? {});
      response.statusCode = 201;
      response.end(JSON.stringify({ number, html_url: `http://127.0.0.1/acme/dags/pull/${number}` }));
      return;
    }
    const update = /^\/repos\/acme\/dags\/pulls\/(\d+)$/.exec(url.pathname);
    if (request.method === "PATCH" && update) {
      response.end(
        JSON.stringify({
          number: Number(update[1]),
          html_url: `http://127.0.0.1/acme/dags/pull/${update[1]}`,
        }),
      );
      return;
    }
    response.statusCode = 404;
    response.end(JSON.stringify({ message: "Not Found" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    requests,
    opened,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
