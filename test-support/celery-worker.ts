/**
 * A real Celery prefork worker for the Airflow 3 tests: Debian's python3-celery on the test Redis, a queue
 * of its own, one pool child, and a client that sends tasks to it and prints their results as JSON. The
 * tasks module is the caller's: what its task does inside the pool child is what Airflow 3's supervisor
 * does (task-sdk `execution_time/supervisor.py` `supervise`).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CollectorTestBed } from "./collector-tests.js";
import { python } from "./process-workloads.js";
import { redisUrl } from "./services.js";

const execFileAsync = promisify(execFile);

/** The lines a tasks module starts with: the app on the test broker and its queue. */
export const celeryAppPreamble = `
import os
from celery import Celery

app = Celery("rightsize_test", broker=os.environ["BROKER"], backend=os.environ["BROKER"])
app.conf.task_default_queue = os.environ["QUEUE"]
app.conf.worker_hijack_root_logger = False
`;

const client = `
import sys, json, importlib
module = importlib.import_module("tasks")
results = []
for name, args in json.loads(sys.argv[1]):
    results.append(getattr(module, name).apply_async(args=args).get(timeout=300))
print(json.dumps(results))
`;

export interface CeleryWorker {
  /** Sends each [task name, args] in turn, waits for each, and returns their results. */
  call(calls: Array<[string, unknown[]]>): Promise<unknown[]>;
}

/**
 * Writes `tasksModule` (which starts with celeryAppPreamble) as tasks.py into `folder` and starts a
 * prefork worker of concurrency 1 on a queue of its own, in a process group the bed kills at the end.
 */
export function startCeleryWorker(bed: CollectorTestBed, folder: string, tasksModule: string): CeleryWorker {
  writeFileSync(join(folder, "tasks.py"), tasksModule);
  writeFileSync(join(folder, "client.py"), client);
  const env = {
    PATH: "/usr/bin:/bin",
    BROKER: `${redisUrl}/0`,
    QUEUE: `rightsize-test-${randomUUID()}`,
    PYTHONPATH: folder,
  };
  bed.start(
    python,
    [
      "-m",
      "celery",
      "-A",
      "tasks",
      "worker",
      "--pool=prefork",
      "--concurrency=1",
      "-Q",
      env.QUEUE,
      "--without-heartbeat",
      "--without-mingle",
      "--without-gossip",
      "--loglevel=WARNING",
    ],
    env,
    { cwd: folder },
  );
  return {
    async call(calls) {
      const { stdout } = await execFileAsync(python, [join(folder, "client.py"), JSON.stringify(calls)], {
        cwd: folder,
        env,
        encoding: "utf8",
        timeout: 300_000,
      });
      return JSON.parse(stdout) as unknown[];
    },
  };
}
