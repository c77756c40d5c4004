/**
 * Scans a repository folder: every `*.py` file through the Python scanner, every `prefect.yaml` /
 * `prefect.yml` through the Prefect scanner. The I/O edge around the pure scanners.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { parseDocument } from "yaml";
import { UsageError } from "../common/errors.js";
import type { ScanResult } from "./findings.js";
import { emptyScanResult } from "./findings.js";
import type { PrefectNames } from "./declaration-patterns.js";
import { scanPrefectYaml } from "./prefect.js";
import { scanPythonSource } from "./python-scanner.js";
import { firstSyntaxError, pythonParser } from "./python-syntax.js";

/** Folders that hold no DAG sources of the repository's own. */
const skippedFolders = new Set([
  ".git",
  "node_modules",
  "__pycache__",
  ".venv",
  "venv",
  ".tox",
  ".mypy_cache",
]);

function listFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.isDirectory()) {
        if (!skippedFolders.has(entry.name)) walk(join(folder, entry.name));
      } else if (
        entry.isFile() &&
        (entry.name.endsWith(".py") || entry.name === "prefect.yaml" || entry.name === "prefect.yml")
      ) {
        files.push(join(folder, entry.name));
      }
    }
  };
  walk(root);
  return files;
}

/** Scans one DAG file (`.py`) or prefect.yaml's text and adds what it finds to `result`. */
export function scanSourceInto(
  result: ScanResult,
  parser: Awaited<ReturnType<typeof pythonParser>>,
  file: string,
  text: string,
  names: PrefectNames,
): void {
  const part = file.endsWith(".py")
    ? scanPythonSource(parser, file, text, names)
    : scanPrefectYaml(file, text, names);
  result.findings.push(...part.findings);
  result.tasks.push(...part.tasks);
  result.problems.push(...part.problems);
  result.files.push(...part.files);
}

/** Scans every DAG file and prefect.yaml under `repo`; paths in the result are relative to it. */
export async function scanRepository(repo: string, names: PrefectNames): Promise<ScanResult> {
  let isFolder = false;
  try {
    isFolder = statSync(repo).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) throw new UsageError(`--repo ${repo}: not a folder`);
  const parser = await pythonParser();
  const result = emptyScanResult();
  for (const path of listFiles(repo)) {
    const file = relative(repo, path).split(sep).join("/");
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      result.problems.push({
        file,
        line: 1,
        message: `cannot be read (${(error as Error).message}); file skipped`,
      });
      continue;
    }
    scanSourceInto(result, parser, file, text, names);
  }
  return result;
}

/** Reads the files findings point into, for the patcher. */
export function readSources(repo: string, files: Iterable<string>): Map<string, string> {
  const sources = new Map<string, string>();
  for (const file of files) sources.set(file, readFileSync(join(repo, file), "utf8"));
  return sources;
}

/**
 * A checker for patched files: Python must parse without ERROR nodes, YAML without errors. Returns a
 * problem description or null.
 */
export async function syntaxChecker(): Promise<(file: string, text: string) => string | null> {
  const parser = await pythonParser();
  return (file, text) => {
    if (file.endsWith(".py")) {
      const tree = parser.parse(text);
      if (!tree) return "could not be parsed";
      try {
        const error = firstSyntaxError(tree.rootNode);
        return error ? `syntax error at line ${error.startPosition.row + 1}` : null;
      } finally {
        tree.delete();
      }
    }
    const document = parseDocument(text);
    return document.errors[0] ? document.errors[0].message.split("\n")[0]! : null;
  };
}
