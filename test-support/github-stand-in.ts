/**
 * A stand-in for the part of the GitHub REST API `rightsize pr` calls, on 127.0.0.1: lists no open pull
 * request and opens one (#7) for every POST, recording each request's JSON body.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface GithubStandIn {
  server: Server;
  url: string;
  /** Bodies of the pull requests opened, in order. */
  opened: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startGithubStandIn(): Promise<GithubStandIn> {
  const opened: Array<Record<string, unknown>> = [];
  const server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      response.setHeader("content-type", "application/json");
      if (request.method === "GET") {
        response.end("[]");
        return;
      }
      if (request.method === "POST") {
        opened.push(JSON.parse(text) as Record<string, unknown>);
        response.statusCode = 201;
        response.end(JSON.stringify({ number: 7, html_url: "http://127.0.0.1/acme/dags/pull/7" }));
        return;
      }
      response.statusCode = 404;
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    opened,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
