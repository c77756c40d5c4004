/**
 * Pod metadata for this node, from the kubelet (`/pods`) or the API server (in-cluster service account,
 * `fieldSelector=spec.nodeName=NODE`), cached by pod UID. Never on the per-tick path: a lookup answers
 * from the cache at once, and an unknown UID starts one refresh in the background.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger } from "../../common/logger.js";
import type { PodObject } from "./kubernetes-pods.js";

/** Where the in-cluster service account is mounted (Kubernetes docs, "Accessing the API from a Pod"). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A refresh is not started again sooner than this after the last one (chosen value: one tick). */
const MIN_REFRESH_MS = 1000;
/** An API that failed is tried again after this long (chosen value), without logging again. */
const RETRY_UNREACHABLE_MS = 60_000;
/** One request's bound (chosen value): a node's pod list answers in well under a second. */
const REQUEST_TIMEOUT_MS = 5000;
/** Pod lists are about 10 KiB per pod; 110 pods per node is the kubelet's default `maxPods` (×30 margin). */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export interface PodSourceOptions {
  /** `off`, `auto` (in-cluster API server when a service account is mounted), or a URL. */
  api: string;
  /** This node's name (downward API `spec.nodeName`); needed for the API server. */
  nodeName: string | null;
  logger: Logger;
  /** Environment to read KUBERNETES_SERVICE_HOST/PORT from; tests pass their own. */
  env?: NodeJS.ProcessEnv;
  serviceAccountDir?: string;
  now?: () => number;
}

export type PodLookup = { state: "known"; pod: PodObject } | { state: "pending" } | { state: "absent" };

interface Endpoint {
  url: URL;
  tokenFile: string | null;
  ca: Buffer | undefined;
}

/** Works out where to ask; null (with the reason) when nothing is configured or reachable in principle. */
export function podEndpoint(options: PodSourceOptions): Endpoint | { none: string } {
  const env = options.env ?? process.env;
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (options.api === "off") return { none: "disabled by configuration (collector.kubernetesApi: off)" };
  const readCa = () => {
    try {
      return readFileSync(`${saDir}/ca.crt`);
    } catch {
      return undefined;
    }
  };
  const tokenFile = (() => {
    try {
      readFileSync(`${saDir}/token`);
      return `${saDir}/token`;
    } catch {
      return null;
    }
  })();
  let base: string;
  if (options.api === "auto") {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    if (!host) return { none: "not in a Kubernetes pod (no KUBERNETES_SERVICE_HOST)" };
    if (!tokenFile) return { none: `no service-account token in ${saDir}` };
    base = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  } else {
    base = options.api;
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return { none: `collector.kubernetesApi is not a URL: ${base}` };
  }
  // A kubelet answers `/pods` with this node's pods; an API server needs the node's name to filter by.
  if (!url.pathname.endsWith("/pods")) {
    if (!options.nodeName)
      return { none: "the node's name is unknown (set RIGHTSIZE_NODE_NAME from spec.nodeName)" };
    url = new URL(`${url.pathname.replace(/\/$/, "")}/api/v1/pods`, url);
    url.searchParams.set("fieldSelector", `spec.nodeName=${options.nodeName}`);
  }
  return { url, tokenFile, ca: url.protocol === "https:" ? readCa() : undefined };
}

function getJson(endpoint: Endpoint): Promise<unknown> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (endpoint.tokenFile) {
    // Bound service-account tokens rotate (about hourly): read the file for every request.
    headers.Authorization = `Bearer ${readFileSync(endpoint.tokenFile, "utf8").trim()}`;
  }
  const request = endpoint.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      endpoint.url,
      { headers, ca: endpoint.ca, timeout: REQUEST_TIMEOUT_MS },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES)
            req.destroy(new Error(`pod list larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on("end", () => {
          if (response.statusCode !== 200) {
            reject(
              new Error(`${endpoint.url.origin}${endpoint.url.pathname} answered ${response.statusCode}`),
            );
            return;
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch (error) {
            reject(new Error("pod list is not JSON", { cause: error }));
          }
        });
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** This node's pods by UID, refreshed off the tick when an unknown UID shows up. */
export class PodSource {
  private readonly pods = new Map<string, PodObject>();
  /** UIDs asked for and not found: when they were first asked. */
  private readonly asked = new Map<string, number>();
  private readonly endpoint: Endpoint | null;
  private refreshing: Promise<void> | null = null;
  private lastStartedMs = Number.NEGATIVE_INFINITY;
  private lastDoneMs = Number.NEGATIVE_INFINITY;
  private unreachableSince: number | null = null;
  private readonly now: () => number;

  constructor(private readonly options: PodSourceOptions) {
    this.now = options.now ?? Date.now;
    const endpoint = podEndpoint(options);
    if ("none" in endpoint) {
      this.endpoint = null;
      options.logger.info(
        { reason: endpoint.none },
        "no Kubernetes API: pods are not attributed by their metadata",
      );
    } else {
      this.endpoint = endpoint;
    }
  }

  /** Whether an API is configured at all (lookups then may answer `pending`). */
  get enabled(): boolean {
    return this.endpoint !== null;
  }

  /** The first listing; logs once, and resolves either way, when the API cannot be reached. */
  async start(): Promise<void> {
    if (!this.endpoint) return;
    await this.refresh();
  }

  /** Waits for a refresh in flight (tests, shutdown). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  lookup(podUid: string): PodLookup {
    const pod = this.pods.get(podUid);
    if (pod) return { state: "known", pod };
    if (!this.endpoint) return { state: "absent" };
    const now = this.now();
    if (this.unreachableSince !== null && now - this.unreachableSince < RETRY_UNREACHABLE_MS)
      return { state: "absent" };
    const askedAt = this.asked.get(podUid);
    // A listing that started after the UID was first asked for, and finished without it: not this node's,
    // or gone already.
    if (askedAt !== undefined && this.lastDoneMs >= askedAt && this.lastStartedMs >= askedAt)
      return { state: "absent" };
    if (askedAt === undefined) this.asked.set(podUid, now);
    if (!this.refreshing && now - this.lastStartedMs >= MIN_REFRESH_MS) void this.refresh();
    return { state: "pending" };
  }

  private refresh(): Promise<void> {
    const endpoint = this.endpoint!;
    this.lastStartedMs = this.now();
    const started = this.lastStartedMs;
    const run = (async () => {
      try {
        const list = (await getJson(endpoint)) as { items?: PodObject[] } | null;
        const items = Array.isArray(list?.items) ? list.items : [];
        this.pods.clear();
        for (const pod of items) if (pod?.metadata?.uid) this.pods.set(pod.metadata.uid, pod);
        for (const uid of this.asked.keys()) if (this.pods.has(uid)) this.asked.delete(uid);
        if (this.unreachableSince !== null) this.options.logger.info("Kubernetes API reachable again");
        this.unreachableSince = null;
      } catch (error) {
        if (this.unreachableSince === null) {
          this.options.logger.warn(
            { err: error instanceof Error ? error : new Error(String(error)), url: endpoint.url.origin },
            "Kubernetes API unreachable: pods are not attributed by their metadata; other resolvers go on",
          );
        }
        this.unreachableSince = this.now();
      } finally {
        this.lastDoneMs = Math.max(this.now(), started);
        this.refreshing = null;
      }
    })();
    this.refreshing = run;
    return run;
  }
}
