/** Reading the analysis document a patch, check or pull request is made from (`--recommendations FILE`). */
import { readFileSync } from "node:fs";
import { type AnalysisDocument, analysisDocumentSchema } from "../common/analysis-document.js";
import { UsageError } from "../common/errors.js";
import type { ScanResult } from "./findings.js";

/** Reads and validates an analysis document; a bad file is a {@link UsageError} naming the file and field. */
export function readRecommendationsFile(file: string): AnalysisDocument {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--recommendations ${file}: cannot read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--recommendations ${file}: not JSON: ${(error as Error).message}`);
  }
  const parsed = analysisDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(
      `--recommendations ${file}: not an analysis document: ${describePath(json, issue.path)}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/** `tasks.3.recommendation.memoryBytes`, with the task's key where it has one: `… (task "airflow"/"etl"/"load")`. */
function describePath(json: unknown, path: PropertyKey[]): string {
  if (path.length === 0) return "(top)";
  const text = path.map(String).join(".");
  if (path[0] !== "tasks" || typeof path[1] !== "number") return text;
  const task = (json as { tasks?: Array<Record<string, unknown>> }).tasks?.[path[1]];
  if (!task || typeof task !== "object") return text;
  const key = [task.orchestrator, task.pipeline, task.task].map((part) => JSON.stringify(part ?? null));
  return `${text} (task ${key.join("/")})`;
}

/** Lines telling what the scan could not read, for stderr: `file:line: message`. */
export function describeProblems(scan: ScanResult): string[] {
  return scan.problems.map((problem) => `${problem.file}:${problem.line}: ${problem.message}`);
}
