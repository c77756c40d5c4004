import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { AnalysisDocument } from "../../common/analysis-document.js";
import { replaceDeclaredRequests } from "../../db/queries/declared-requests.js";
import { loadAnalysisDocument } from "../../db/queries/profiles.js";
import { escapeTextLine } from "../../reports/escape.js";
import {
  declaredRows,
  describeProblems,
  describeValue,
  type NotAppliedDeclaration,
  notAppliedDeclarations,
  readRecommendationsFile,
  type ScanResult,
  scanRepository,
} from "../../sources/index.js";
import { runtimeOf, withDatabase } from "../runtime.js";
import { repoFolder } from "./patch.js";

interface ScanOptions {
  repo: string;
  json?: string;
  store: boolean;
  recommendations?: string;
}

/** One warning line per declared value that does not reach a task: `warning: file:line dag/task: …`. */
export function describeNotApplied(declarations: readonly NotAppliedDeclaration[]): string[] {
  return declarations.map((item) =>
    escapeTextLine(
      `warning: ${item.finding.file}:${item.finding.line} ${item.pipeline}/${item.task}: ${item.message}`,
    ),
  );
}

/** The findings as people read them: one line per declared value. */
export function describeFindings(scan: ScanResult): string[] {
  return scan.findings.map(
    (finding) =>
      `${finding.file}:${finding.line}:${finding.column}  ${finding.pipeline}/${finding.tasks.join(",")}  ${finding.resource} ${finding.kind} ${finding.raw}${finding.dynamic ? " (dynamic, not evaluated)" : ` = ${describeValue(finding.unit, finding.value)}`}  [${finding.pattern}${finding.via === "task" ? "" : ` via ${finding.via}`}]${finding.note ? `  (${escapeTextLine(finding.note)})` : ""}`,
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
    .option(
      "--recommendations <file>",
      "an analysis document (`analyze --json`) to hold the declarations against what the runs really had; default: the latest analysis in the database when storing",
    )
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
      const scan = await scanRepository(repo, runtime.config.prefect, runtime.config.sources);
      for (const line of describeProblems(scan)) process.stderr.write(`warning: ${line}\n`);
      let document: AnalysisDocument | null = options.recommendations
        ? readRecommendationsFile(options.recommendations)
        : null;
      if (options.store) {
        document = await withDatabase(runtime, async (handle) => {
          await replaceDeclaredRequests(handle.db, repo, declaredRows(repo, scan));
          return document ?? (await loadAnalysisDocument(handle.db)) ?? null;
        });
      }
      const notApplied = document ? notAppliedDeclarations(scan, document) : [];
      if (options.json) {
        writeFileSync(
          options.json,
          `${JSON.stringify({ repo, ...scan, notApplied: notApplied.map(notAppliedJson) }, null, 2)}\n`,
        );
      }
      const lines = [...describeFindings(scan), ...describeNotApplied(notApplied)];
      lines.push(
        `${scan.findings.length} declared value(s) for ${scan.tasks.length} task(s) in ${scan.files.length} file(s)${scan.problems.length > 0 ? `, ${scan.problems.length} file(s) skipped` : ""}${notApplied.length > 0 ? `, ${notApplied.length} that do not apply` : ""}${options.store ? "; stored" : ""}`,
      );
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}

/** The JSON form of a value that does not apply: where, which task, what the runs had, why. */
function notAppliedJson(item: NotAppliedDeclaration) {
  const { file, line, resource, kind, value } = item.finding;
  return {
    file,
    line,
    orchestrator: item.orchestrator,
    pipeline: item.pipeline,
    task: item.task,
    resource,
    kind,
    declared: value,
    effective: item.mismatch?.effective ?? null,
    effectiveKind: item.mismatch?.effectiveKind ?? null,
    source: item.mismatch?.source ?? null,
    reason: item.reason,
    where: item.where,
    message: item.message,
  };
}
