/**
 * Scans a repository folder: every `*.py` file through the Python scanner, every `prefect.yaml` /
 * `prefect.yml` through the Prefect scanner, `airflow.cfg`, `.env` / docker-compose files and Helm values
 * files through theirs, then the pod templates they name. The I/O edge around the pure scanners.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, posix, relative, sep } from "node:path";
import { parseDocument } from "yaml";
import { UsageError } from "../common/errors.js";
import type { ImagePath } from "../common/setting-parsers.js";
import type { ScanProblem, ScanResult } from "./findings.js";
import { emptyScanResult } from "./findings.js";
import type { PrefectNames } from "./declaration-patterns.js";
import { looksLikeDagFactory, scanDagFactoryYaml, type YamlSource } from "./dag-factory.js";
import { isHelmValuesName, scanHelmValues } from "./helm-values.js";
import {
  applyPodTemplates,
  isAirflowConfigName,
  isEnvironmentFileName,
  type ReadRepositoryFile,
  scanAirflowConfig,
  scanEnvironmentFile,
} from "./pod-template.js";
import { scanPrefectYaml, settleDeployedFlows } from "./prefect.js";
import { scanPythonSource } from "./python-scanner.js";
import { firstSyntaxError, pythonParser } from "./python-syntax.js";
import { parseYamlFile } from "./yaml-scalars.js";
import { scanWorkPoolTemplate, settleWorkPoolDefaults } from "./work-pool-template.js";

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

/**
 * Files larger than this are skipped with a warning. The largest generated DAG files we know of are a
 * few hundred KiB; parsing costs about 0.4 s and 40 MB per MB of Python (a 50 MB file took more than
 * 20 s and 2 GB), so 4 MiB bounds one file to about 2 s (chosen value).
 */
export const MAX_SOURCE_FILE_BYTES = 4 * 1024 ** 2;

function isPrefectYamlName(name: string): boolean {
  return name === "prefect.yaml" || name === "prefect.yml";
}

/**
 * Python files and prefect.yaml by name; other YAML (dag-factory DAG definitions) and JSON (work-pool
 * base job templates) are told by their content, and files that are neither are left out.
 */
function isSourceName(name: string): boolean {
  return (
    name.endsWith(".py") ||
    /\.(ya?ml|json)$/.test(name) ||
    isAirflowConfigName(name) ||
    isEnvironmentFileName(name)
  );
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The source files under `root`, sorted. Symbolic links are followed only while they stay inside the
 * repository (a link out of it is reported and skipped: the repository is someone else's input), and
 * every real folder is walked once, so link loops end.
 */
function listFiles(root: string, problems: ScanProblem[]): string[] {
  const realRoot = realpathSync(root);
  const files: string[] = [];
  const walked = new Set<string>();
  const walk = (folder: string) => {
    const real = realpathSync(folder);
    if (walked.has(real)) return;
    walked.add(real);
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(folder, entry.name);
      let isDirectory = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(path);
        } catch {
          continue; // a dangling link holds nothing to scan
        }
        if (!inside(realRoot, target)) {
          if (isSourceName(entry.name) || statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
            problems.push({
              file: relative(root, path).split(sep).join("/"),
              line: 1,
              message: "symbolic link out of the repository; not followed",
            });
          }
          continue;
        }
        const stat = statSync(target);
        isDirectory = stat.isDirectory();
        isFile = stat.isFile();
      }
      if (isDirectory) {
        if (!skippedFolders.has(entry.name)) walk(path);
      } else if (isFile && isSourceName(entry.name)) {
        files.push(path);
      }
    }
  };
  walk(root);
  return files;
}

/** Python files before prefect.yaml files (each group in path order): flows are known before deployments. */
export function pythonFirst<T extends string>(files: T[]): T[] {
  return [...files.filter((file) => file.endsWith(".py")), ...files.filter((file) => !file.endsWith(".py"))];
}

/**
 * Scans one DAG file (`.py`), prefect.yaml, dag-factory YAML or work-pool template and adds what it
 * finds to `result` (nothing for a YAML or JSON file that is neither).
 */
export function scanSourceInto(
  result: ScanResult,
  parser: Awaited<ReturnType<typeof pythonParser>>,
  file: string,
  text: string,
  names: PrefectNames,
  dagFactoryDefaults: readonly YamlSource[] = [],
): void {
  // prefect.yaml entrypoints name flows in the Python files: those are scanned first (scanRepository
  // and the fixtures order them so), and their flows resolve the deployments' keys.
  const name = posix.basename(file);
  const part = file.endsWith(".py")
    ? scanPythonSource(parser, file, text, names, result.flows)
    : isPrefectYamlName(name)
      ? scanPrefectYaml(file, text, names, result.flows)
      : isAirflowConfigName(name)
        ? scanAirflowConfig(file, text)
        : isEnvironmentFileName(name)
          ? scanEnvironmentFile(file, text)
          : isHelmValuesName(name)
            ? scanHelmValues(file, text)
            : name.endsWith(".json")
              ? scanWorkPoolTemplate(file, text)
              : scanDagFactoryYaml(file, text, dagFactoryDefaults);
  if (part === null) return;
  result.findings.push(...part.findings);
  result.flows.push(...part.flows);
  result.tasks.push(...part.tasks);
  result.podTemplates.push(...part.podTemplates);
  result.problems.push(...part.problems);
  if (part.executors?.length) result.executors = [...(result.executors ?? []), ...part.executors];
  if (part.workPools?.length) result.workPools = [...(result.workPools ?? []), ...part.workPools];
  result.files.push(...part.files);
}

/** Scans every source file under `repo` (see {@link scanSourceInto}); paths in the result are relative to it. */
export async function scanRepository(
  repo: string,
  names: PrefectNames,
  options: { imagePaths?: readonly ImagePath[] } = {},
): Promise<ScanResult> {
  let isFolder = false;
  try {
    isFolder = statSync(repo).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) throw new UsageError(`--repo ${repo}: not a folder`);
  const parser = await pythonParser();
  const result = emptyScanResult();
  const paths = pythonFirst(listFiles(repo, result.problems));
  const defaultsFor = dagFactoryDefaultsReader(
    paths.map((path) => relative(repo, path).split(sep).join("/")),
    (file) => readFileSync(join(repo, file), "utf8"),
    result.problems,
  );
  for (const path of paths) {
    const file = relative(repo, path).split(sep).join("/");
    let text: string;
    try {
      const size = statSync(path).size;
      if (size > MAX_SOURCE_FILE_BYTES) {
        result.problems.push({
          file,
          line: 1,
          message: `${(size / 1024 ** 2).toFixed(1)} MiB, over the ${MAX_SOURCE_FILE_BYTES / 1024 ** 2} MiB limit for a source file; file skipped`,
        });
        continue;
      }
      text = readFileSync(path, "utf8");
    } catch (error) {
      result.problems.push({
        file,
        line: 1,
        message: `cannot be read (${(error as Error).message}); file skipped`,
      });
      continue;
    }
    scanSourceInto(
      result,
      parser,
      file,
      text,
      names,
      /\.ya?ml$/.test(file) && looksLikeDagFactory(text) ? defaultsFor(file) : [],
    );
  }
  settleDeployedFlows(result);
  settleWorkPoolDefaults(result);
  applyPodTemplates(
    result,
    repositoryReader(repo),
    paths.map((path) => relative(repo, path).split(sep).join("/")),
    options.imagePaths,
  );
  return result;
}

/**
 * dag-factory's `defaults.yml` files for a YAML file: in its folder and each folder above it up to the
 * repository's root, nearest first, `defaults.yml` before `defaults.yaml` in one folder (astronomer/
 * dag-factory dagfactory/dagfactory.py `_retrieve_default_yaml_filepaths`; the repository's root stands
 * for `defaults_config_path`, whose default is the DAGs folder). Each is parsed once; a malformed one is
 * reported once and left out.
 */
export function dagFactoryDefaultsReader(
  files: readonly string[],
  read: (file: string) => string,
  problems: ScanProblem[],
): (file: string) => YamlSource[] {
  const present = new Set(files);
  const parsed = new Map<string, YamlSource | null>();
  const load = (file: string): YamlSource | null => {
    if (parsed.has(file)) return parsed.get(file)!;
    let source: YamlSource | null = null;
    try {
      const text = read(file);
      const yaml = parseYamlFile(file, text);
      if ("message" in yaml) problems.push(yaml);
      else source = { file, text, ...yaml };
    } catch (error) {
      problems.push({ file, line: 1, message: `cannot be read (${(error as Error).message}); file skipped` });
    }
    parsed.set(file, source);
    return source;
  };
  return (file) => {
    if (!/\.ya?ml$/.test(file)) return [];
    const sources: YamlSource[] = [];
    for (let folder = posix.dirname(file); ; folder = posix.dirname(folder)) {
      const prefix = folder === "." ? "" : `${folder}/`;
      const name = ["defaults.yml", "defaults.yaml"]
        .map((base) => prefix + base)
        .find((candidate) => present.has(candidate));
      const source = name && name !== file ? load(name) : null;
      if (source) sources.push(source);
      if (folder === "." || folder === "/" || folder === "") break;
    }
    return sources;
  };
}

/**
 * Reads a file the scan names by path (a pod template) under the same guards as the walk: only inside
 * the repository, symbolic links only while they stay inside, no file over the size limit.
 */
export function repositoryReader(repo: string): ReadRepositoryFile {
  const realRoot = realpathSync(repo);
  return (path) => {
    const full = join(repo, path);
    if (!inside(repo, full)) return { kind: "refused", message: "path out of the repository; not read" };
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      return { kind: "missing" };
    }
    if (!inside(realRoot, real)) {
      return { kind: "refused", message: "symbolic link out of the repository; not followed" };
    }
    const stat = statSync(real);
    if (!stat.isFile()) return { kind: "missing" };
    if (stat.size > MAX_SOURCE_FILE_BYTES) {
      return {
        kind: "refused",
        message: `${(stat.size / 1024 ** 2).toFixed(1)} MiB, over the ${MAX_SOURCE_FILE_BYTES / 1024 ** 2} MiB limit for a source file; file skipped`,
      };
    }
    return { kind: "file", text: readFileSync(real, "utf8") };
  };
}

/** Reads the files findings point into, for the patcher. */
export function readSources(repo: string, files: Iterable<string>): Map<string, string> {
  const sources = new Map<string, string>();
  for (const file of files) sources.set(file, readFileSync(join(repo, file), "utf8"));
  return sources;
}

/**
 * A checker for patched files: Python must parse without ERROR nodes, YAML without errors, JSON as
 * JSON. Returns a problem description or null.
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
    if (file.endsWith(".json")) {
      // A work-pool template must stay JSON for Prefect, not merely YAML (which is lenient about it).
      try {
        JSON.parse(text);
        return null;
      } catch (error) {
        return `not valid JSON: ${(error as Error).message}`;
      }
    }
    const document = parseDocument(text);
    return document.errors[0] ? document.errors[0].message.split("\n")[0]! : null;
  };
}
