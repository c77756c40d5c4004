/**
 * Finds declared resource requests in Python sources through tree-sitter-python's syntax tree, never
 * regular expressions for structure: Airflow DAGs (airflow-model.ts) and Prefect `.deploy()` calls
 * (prefect.ts). The scan of one file is a pure function of its text.
 */
import type { Parser } from "web-tree-sitter";
import { scanAirflowDags } from "./airflow-model.js";
import type { PrefectNames } from "./declaration-patterns.js";
import type { FlowDefinition, ScanResult } from "./findings.js";
import { emptyScanResult } from "./findings.js";
import { collectFlows, scanDeployCalls } from "./prefect.js";
import { PythonModule } from "./python-module.js";
import { firstSyntaxError } from "./python-syntax.js";

/** Scans one Python file's text. `file` is the path reported in findings. */
export function scanPythonSource(
  parser: Parser,
  file: string,
  text: string,
  names: PrefectNames,
  knownFlows: FlowDefinition[] = [],
): ScanResult {
  const result = emptyScanResult();
  result.files.push(file);
  const tree = parser.parse(text);
  if (!tree) {
    result.problems.push({ file, line: 1, message: "could not be parsed" });
    return result;
  }
  try {
    const root = tree.rootNode;
    const error = firstSyntaxError(root);
    if (error) {
      result.problems.push({
        file,
        line: error.startPosition.row + 1,
        message: `syntax error${error.isMissing ? ` (missing "${error.type}")` : ""}; file skipped`,
      });
      return result;
    }
    const module = new PythonModule(file, text, root, result);
    scanAirflowDags(module);
    collectFlows(module);
    scanDeployCalls(module, names, knownFlows);
    module.finish();
    return result;
  } finally {
    tree.delete();
  }
}
