import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
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

  it.each(rightsizeServices)("service %s runs a real rightsize command with real flags", (_name, service) => {
    const program = buildProgram();
    const words = service.command ?? [];
    const found = resolve(program, words);
    expect(found, `no rightsize command '${words.join(" ")}'`).toBeDefined();
    const known = flagsOf(found!.command);
    for (const word of found!.rest.filter((item) => item.startsWith("-"))) {
      expect(known, `unknown flag ${word} for '${words.join(" ")}'`).toContain(word.split("=")[0]);
    }
  });

  it.each(rightsizeServices)("service %s sets only known settings", (_name, service) => {
    const known = new Set([
      ...settings.flatMap((setting) => (setting.env ? [setting.env] : [])),
      "RIGHTSIZE_CONFIG",
    ]);
    for (const variable of Object.keys(service.environment ?? {})) {
      expect(known, `unknown setting ${variable}`).toContain(variable);
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
