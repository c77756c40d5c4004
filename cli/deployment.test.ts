import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { settings } from "../common/config.js";
import { buildProgram } from "./program.js";

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
}

const compose = parse(readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"), {
  merge: true,
}) as {
  services: Record<string, ComposeService>;
};
const rightsizeServices = Object.entries(compose.services).filter(
  ([, service]) => service.image === "rightsize:latest",
);

/** Finds the command a compose `command:` runs, walking subcommands (`db migrate`). */
function resolve(program: Command, words: string[]): { command: Command; rest: string[] } | undefined {
  let current = program;
  let index = 0;
  while (index < words.length) {
    const next = current.commands.find((command) => command.name() === words[index]);
    if (!next) break;
    current = next;
    index++;
  }
  return current === program ? undefined : { command: current, rest: words.slice(index) };
}

function flagsOf(command: Command | null): string[] {
  const flags: string[] = [];
  for (let node = command; node; node = node.parent) {
    for (const option of node.options)
      flags.push(...[option.long, option.short].filter((flag): flag is string => !!flag));
  }
  return flags;
}

const knownVariables = new Set([
  ...settings.flatMap((setting) => (setting.env ? [setting.env] : [])),
  "RIGHTSIZE_CONFIG",
  // Node's own: the collector runs with a small young generation (BENCHMARKS.md "collector").
  "NODE_OPTIONS",
]);

/** Fails unless `words` (a container's args, a unit's ExecStart) run a real command with real flags. */
async function expectRealCommand(words: string[]): Promise<void> {
  const found = resolve(await buildProgram(), words);
  expect(found, `no rightsize command '${words.join(" ")}'`).toBeDefined();
  const known = flagsOf(found!.command);
  for (const word of found!.rest.filter((item) => item.startsWith("-"))) {
    expect(known, `unknown flag ${word} for '${words.join(" ")}'`).toContain(word.split("=")[0]);
  }
}

describe("docker-compose.yml", () => {
  it("runs the collector, a worker and the scheduler from the image, next to Postgres 16 and Redis 7", () => {
    expect(compose.services.postgres?.image).toBe("postgres:16");
    expect(compose.services.redis?.image).toBe("redis:7");
    expect(rightsizeServices.map(([name]) => name).sort()).toEqual([
      "collector",
      "migrate",
      "scheduler",
      "worker",
    ]);
    const collector = compose.services.collector as ComposeService & { pid?: string; volumes?: string[] };
    expect(collector.pid).toBe("host");
    expect(collector.volumes).toEqual(
      expect.arrayContaining(["/proc:/host/proc:ro", "/sys/fs/cgroup:/host/sys/fs/cgroup:ro"]),
    );
  });

  it.each(rightsizeServices)(
    "service %s runs a real rightsize command with real flags",
    async (_name, service) => {
      await expectRealCommand(service.command ?? []);
    },
  );

  it.each(rightsizeServices)("service %s sets only known settings", (_name, service) => {
    for (const variable of Object.keys(service.environment ?? {})) {
      expect(knownVariables, `unknown setting ${variable}`).toContain(variable);
    }
  });
});

describe("Dockerfile", () => {
  it("builds in one stage and runs the built CLI from a slim second stage", () => {
    const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
    const stages = dockerfile.split("\n").filter((line) => line.startsWith("FROM "));
    expect(stages).toEqual(["FROM node:20-bookworm-slim AS build", "FROM node:20-bookworm-slim"]);
    expect(dockerfile).toContain("COPY --from=build /app/dist ./dist");
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/app/dist/cli/main.js"]');
  });
});

describe("deploy/systemd/rightsize-collector.service", () => {
  it("starts a real collect command as root and stops it with SIGTERM", async () => {
    const unit = readFileSync(
      new URL("../deploy/systemd/rightsize-collector.service", import.meta.url),
      "utf8",
    );
    const directives = new Map(
      unit
        .split("\n")
        .filter((line) => /^\w+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
    );
    const exec = directives.get("ExecStart")?.split(/\s+/) ?? [];
    expect(exec.slice(0, 2)).toEqual(["/usr/bin/env", "rightsize"]);
    await expectRealCommand(exec.slice(2));
    expect(directives.get("User")).toBe("root");
    expect(directives.get("KillSignal")).toBe("SIGTERM");
    const environment = unit.split("\n").filter((line) => line.startsWith("Environment="));
    expect(environment.length).toBeGreaterThan(0);
    for (const line of environment) expect(knownVariables).toContain(line.slice(12).split("=")[0]);
  });
});

describe("deploy/kubernetes/rightsize.yaml", () => {
  const documents = parseAllDocuments(
    readFileSync(new URL("../deploy/kubernetes/rightsize.yaml", import.meta.url), "utf8"),
  ).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJSON() as {
      kind: string;
      metadata: { name: string; namespace?: string };
      data?: Record<string, string>;
      rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      subjects?: Array<{ kind: string; name: string; namespace: string }>;
      roleRef?: { kind: string; name: string };
      spec: {
        template: {
          spec: {
            hostPID?: boolean;
            serviceAccountName?: string;
            containers: Array<{
              args: string[];
              env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
              ports?: Array<{ name: string; containerPort: number }>;
              livenessProbe?: { httpGet: { path: string; port: string } };
              readinessProbe?: { httpGet: { path: string; port: string } };
            }>;
          };
        };
      };
    };
  });
  const workloads = () =>
    documents.filter((document) => ["DaemonSet", "Deployment", "Job"].includes(document.kind));

  it("has a collector DaemonSet on the host PID namespace, a worker Deployment and a schedule Job", () => {
    expect(documents.map((document) => `${document.kind}/${document.metadata.name}`)).toEqual([
      "ConfigMap/rightsize-config",
      "ServiceAccount/rightsize-collector",
      "ClusterRole/rightsize-collector",
      "ClusterRoleBinding/rightsize-collector",
      "DaemonSet/rightsize-collector",
      "Deployment/rightsize-worker",
      "Job/rightsize-schedule",
    ]);
    expect(documents.find((document) => document.kind === "DaemonSet")!.spec.template.spec.hostPID).toBe(
      true,
    );
  });

  it("lets the collector get and list pods, nothing more, and tells it its node", () => {
    const byKind = (kind: string) => documents.find((document) => document.kind === kind)!;
    expect(byKind("ClusterRole").rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    ]);
    const account = byKind("ServiceAccount").metadata;
    expect(byKind("ClusterRoleBinding").subjects).toEqual([
      { kind: "ServiceAccount", name: account.name, namespace: account.namespace },
    ]);
    expect(byKind("ClusterRoleBinding").roleRef).toMatchObject({
      kind: "ClusterRole",
      name: byKind("ClusterRole").metadata.name,
    });
    const collector = byKind("DaemonSet").spec.template.spec;
    expect(collector.serviceAccountName).toBe(account.name);
    expect(collector.containers[0]!.env).toContainEqual({
      name: "RIGHTSIZE_NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
  });

  it("probes the collector's health endpoint on the port it listens on", () => {
    const [collector] = documents.find((document) => document.kind === "DaemonSet")!.spec.template.spec
      .containers;
    const listen = collector!.args[collector!.args.indexOf("--metrics-listen") + 1];
    const port = collector!.ports?.find((entry) => entry.name === collector!.livenessProbe?.httpGet.port);
    expect(listen).toBe(`0.0.0.0:${port?.containerPort}`);
    expect(collector!.livenessProbe?.httpGet.path).toBe("/healthz");
    expect(collector!.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
  });

  it("runs real commands and sets only known settings", async () => {
    for (const document of documents) {
      for (const name of Object.keys(document.data ?? {})) expect(knownVariables, name).toContain(name);
      const containers = workloads().includes(document) ? document.spec.template.spec.containers : [];
      for (const container of containers) {
        await expectRealCommand(container.args);
        for (const variable of container.env ?? [])
          expect(knownVariables, variable.name).toContain(variable.name);
      }
    }
  });
});
