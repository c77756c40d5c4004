/**
 * Scanning and patching a large DAG repository: 1,000 Python DAG files (100 copies of the fixture's ten
 * DAG files with renamed DAGs) plus 100 prefect.yaml files. Floor: tree-sitter parsing the same Python files
 * without looking at the trees, the least any structural scanner must do. Reference: CPython's own
 * `ast.parse` of the same files in one python3 process (startup included). Median of 5 runs after a
 * warm-up, with ratios to the floor.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { analysisTask, defaultPrefectNames, fixtureFiles } from "../test-support/source-fixtures.js";
import { planPatches, usableRecommendations } from "../sources/patcher.js";
import { pythonParser } from "../sources/python-syntax.js";
import { readSources, scanRepository } from "../sources/scan-repository.js";
import { medianMs } from "./median-time.js";

const copies = 100;
/** Enough repetitions for a stable median on a shared 2-core machine without making `npm run bench` slow. */
const repetitions = 5;

const measure = (work: () => Promise<unknown> | unknown) => medianMs(work, repetitions);

function writeRepository(folder: string): number {
  let files = 0;
  for (let copy = 0; copy < copies; copy++) {
    for (const [file, text] of Object.entries(fixtureFiles)) {
      if (file === "dags/broken.py") continue;
      const renamed = text.replace(
        /("|dag_id=")([a-z_]+_dag|pod_[a-z]+|kpo_dag|taskflow_etl|decorated_defaults)"/g,
        `$1$2_${copy}"`,
      );
      const path = join(folder, `copy_${copy}`, file);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, renamed);
      if (file.endsWith(".py")) files++;
    }
  }
  return files;
}

function pythonFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".py"))
    .map((file) => join(folder, file));
}

export async function run(): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), "rightsize-bench-requests-"));
  try {
    const fileCount = writeRepository(folder);
    const files = pythonFiles(folder);
    const parser = await pythonParser();
    const scan = await scanRepository(folder, defaultPrefectNames);
    const recommendations = usableRecommendations(
      scan.tasks.map((task) =>
        analysisTask({
          orchestrator: task.orchestrator,
          pipeline: task.pipeline,
          task: task.task,
          cpuCores: 0.3 + (task.task.length % 5) / 10,
          memoryBytes: (600 + (task.task.length % 7) * 200) * 1024 ** 2,
        }),
      ),
    );
    const floor = await measure(() => {
      for (const file of files) parser.parse(readFileSync(file, "utf8"))?.delete();
    });
    const scanMs = await measure(() => scanRepository(folder, defaultPrefectNames));
    const planMs = await measure(async () => {
      const result = await scanRepository(folder, defaultPrefectNames);
      const sources = readSources(folder, new Set(result.findings.map((finding) => finding.file)));
      return planPatches(result, sources, recommendations);
    });
    const script = "import ast, sys\nfor path in sys.argv[1:]:\n    ast.parse(open(path).read(), path)\n";
    const pythonMs = await measure(() => execFileSync("python3", ["-c", script, ...files]));
    const rows = [
      ["tree-sitter parse only (floor)", floor],
      ["rightsize scan (parse + walk + prefect.yaml)", scanMs],
      ["rightsize scan + patch plan", planMs],
      ["python3 ast.parse, one process (reference)", pythonMs],
    ].map(([name, ms]) => [
      String(name),
      (ms as number).toFixed(1),
      ((fileCount / (ms as number)) * 1000).toFixed(0),
      ((ms as number) / floor).toFixed(2),
    ]);
    const header = ["case", "median ms", "Python files/s", "× floor"];
    const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
    process.stdout.write(
      `${fileCount} Python DAG files + ${copies} prefect.yaml, ${scan.findings.length} findings, ${scan.tasks.length} tasks; ${repetitions} runs each after a warm-up\n${lines.join("\n")}\n`,
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
