import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { replaceDeclaredRequests } from "../../db/queries/declared-requests.js";
import {
  declaredRows,
  describeProblems,
  describeValue,
  type ScanResult,
  scanRepository,
} from "../../sources/index.js";
import { runtimeOf, withDatabase } from "../runtime.js";
import { repoFolder } from "./patch.js";

interface ScanOptions {
  repo: string;
  json?: string;
  store: boolean;
}

/** The findings as people read them: one line per declared value. */
export function describeFindings(scan: ScanResult): string[] {
  return scan.findings.map(
    (finding) =>
      `${finding.file}:${finding.line}:${finding.column}  ${finding.pipeline}/${finding.tasks.join(",")}  ${finding.resource} ${finding.kind} ${finding.raw}${finding.dynamic ? " (dynamic, not evaluated)" : ` = ${describeValue(finding.unit, finding.value)}`}  [${finding.pattern}${finding.via === "task" ? "" : ` via ${finding.via}`}]`,
  );
}

export function register(program: Command): void {
  program
    .command("scan")
    .description(
      "finds the CPU and memory requests declared in Airflow DAG files (resources=, executor_config pod_override and KubernetesExecutor, KubernetesPodOperator container_resources, default_args) dag-factory YAML DAG definitions, Prefect deployments (prefect.yaml job_variables, .deploy(job_variables=…)) and the work-pool base job templates they inherit from, and stores them as declared requests",
    )
    .requiredOption(
      "--repo <dir>",
      "the DAG/flow repository to scan (every *.py and prefect.yaml under it, and the YAML and JSON files that are dag-factory DAGs or work-pool templates)",
    )
    .option(
      "--json <file>",
      "also write the findings (file, line, column, value, unit, tasks…) as JSON to FILE",
    )
    .option("--no-store", "don't store the findings in the database (scan and print only)")
    .addHelpText(
      "after",
      `
A file with a syntax error is reported as file:line and skipped; values that need evaluating (calls,
f-strings, Jinja templates, unknown names) are reported as dynamic. Stored findings replace the previous
scan of the same repository; the analyzer uses them as the tasks' declared requests.

Examples:
  rightsize scan --repo ~/src/airflow-dags
  rightsize scan --repo . --json findings.json --no-store

See docs/requests.md.`,
    )
    .action(async (options: ScanOptions, command: Command) => {
      const runtime = runtimeOf(command);
      const repo = repoFolder(options.repo);
      const scan = await scanRepository(repo, runtime.config.prefect);
      for (const line of describeProblems(scan)) process.stderr.write(`warning: ${line}\n`);
      if (options.json) {
        writeFileSync(options.json, `${JSON.stringify({ repo, ...scan }, null, 2)}\n`);
      }
      if (options.store) {
        await withDatabase(runtime, (handle) =>
          replaceDeclaredRequests(handle.db, repo, declaredRows(repo, scan)),
        );
      }
      const lines = describeFindings(scan);
      lines.push(
        `${scan.findings.length} declared value(s) for ${scan.tasks.length} task(s) in ${scan.files.length} file(s)${scan.problems.length > 0 ? `, ${scan.problems.length} file(s) skipped` : ""}${options.store ? "; stored" : ""}`,
      );
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
