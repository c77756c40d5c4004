/**
 * Kubernetes pod template files, the KubernetesExecutor's pod for a task: named per task by
 * `executor_config={"pod_template_file": …}` (airflow-model.ts records the reference) or, for every task
 * without its own, by the `[kubernetes_executor] pod_template_file` setting of an `airflow.cfg` in the
 * repository. A template's requests are its `base` container's `resources`. Pure functions of the
 * files' texts; the repository is read through a guarded reader (scan-repository.ts).
 *
 * Upstream (apache/airflow at 0b3d3e9): providers/cncf/kubernetes/src/airflow/providers/cncf/kubernetes/
 * pod_generator.py, `PodGenerator.construct_pod` reconciles the template's pod, then the executor's
 * pod, then `pod_override`; `reconcile_containers` merges the first containers, and `merge_objects`
 * takes the override's `resources` whole when it has any. providers/cncf/kubernetes/docs/
 * kubernetes_executor.rst: "A pod_template_file must have a container named base at the
 * spec.containers[0] position", and a per-task `pod_template_file` "will replace the default
 * pod_template_file named in the airflow.cfg".
 */
import { posix } from "node:path";
import type { ImagePath } from "../common/setting-parsers.js";
import { resourceRequirementKeys, resourceRequirementKinds } from "./declaration-patterns.js";
import {
  emptyScanResult,
  type Finding,
  type PodTemplateReference,
  type RequestKind,
  type Resource,
  type ScanProblem,
  type ScanResult,
} from "./findings.js";
import { parseDeclared, type QuantityUnit } from "./quantities.js";
import { isMap, isScalar, isSeq } from "yaml";
import { parseYamlFile, yamlAt, type YamlScalarValue, yamlScalarValue } from "./yaml-scalars.js";

/** What the guarded reader found at a repository-relative path. */
export type RepositoryFile =
  { kind: "file"; text: string } | { kind: "missing" } | { kind: "refused"; message: string };
export type ReadRepositoryFile = (path: string) => RepositoryFile;

export function isAirflowConfigName(name: string): boolean {
  return name === "airflow.cfg";
}

/**
 * `[kubernetes_executor]` since Airflow 2.5, `[kubernetes]` before (the Helm chart's values.yaml writes
 * both: "The `kubernetes` section is deprecated in Airflow >= 2.5.0 due to an airflow.cfg schema
 * change"); the newer section wins when both are set.
 */
const templateSections = ["kubernetes_executor", "kubernetes"];

/**
 * An `airflow.cfg`: the executor's default pod template, read the way Python's configparser reads the
 * file (sections, `key = value` or `key: value`, case-insensitive keys, `#`/`;` comment lines).
 */
export function scanAirflowConfig(file: string, text: string): ScanResult {
  const result = emptyScanResult();
  result.files.push(file);
  const found = new Map<string, { value: string; line: number }>();
  let section: string | null = null;
  text.split(/\r?\n/).forEach((line, index) => {
    const header = /^\[([^\]]+)\]\s*$/.exec(line.trim());
    if (header) {
      section = header[1]!.trim().toLowerCase();
      return;
    }
    if (/^\s/.test(line) || /^[#;]/.test(line.trim()) || section === null) return;
    const pair = /^([^=:]+)[=:](.*)$/.exec(line);
    const key = pair?.[1]!.trim().toLowerCase();
    if (!pair || (key !== "pod_template_file" && key !== "executor")) return;
    if (key === "executor") {
      // `[core] executor` (apache/airflow airflow-core/src/airflow/config_templates/config.yml).
      if (section === "core" && pair[2]!.trim() !== "") {
        (result.executors ??= []).push({
          file,
          line: index + 1,
          executor: pair[2]!.trim(),
          from: "airflow.cfg",
        });
      }
      return;
    }
    if (templateSections.includes(section)) found.set(section, { value: pair[2]!.trim(), line: index + 1 });
  });
  const setting = templateSections.map((name) => found.get(name)).find((entry) => entry !== undefined);
  if (setting) defaultReference(result, file, setting.line, setting.value, false);
  return result;
}

/** A default template setting's value as a reference; a value that needs a shell to expand is reported. */
function defaultReference(
  result: ScanResult,
  file: string,
  line: number,
  value: string,
  fromEnvironment: boolean,
): void {
  if (value === "") return;
  // `{AIRFLOW_HOME}/…`, `$AIRFLOW_HOME/…`, `${AIRFLOW_HOME}/…`: a folder only the deployment knows.
  const prefixed = /^(?:\{[A-Za-z_]\w*\}|\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*)[/\\]?(.*)$/.exec(value);
  const path = prefixed ? prefixed[1]! : value;
  if (path.includes("$") || path.includes("{{")) {
    result.problems.push({
      file,
      line,
      message: `pod_template_file ${JSON.stringify(value)} is computed; not read`,
    });
    return;
  }
  result.podTemplates.push({
    file,
    line,
    path,
    tail: prefixed !== null,
    task: null,
    ...(fromEnvironment ? { fromEnvironment } : {}),
  });
}

/**
 * The environment form of the setting, `AIRFLOW__{SECTION}__{KEY}` (Airflow's configuration reference:
 * an environment variable wins over airflow.cfg); the newer section first, as above.
 */
const templateVariables = templateSections.map(
  (section) => `AIRFLOW__${section.toUpperCase()}__POD_TEMPLATE_FILE`,
);

/** `[core] executor` set through the environment, which wins over airflow.cfg likewise. */
export const EXECUTOR_VARIABLE = "AIRFLOW__CORE__EXECUTOR";

/** `.env` (as docker compose reads it) and docker-compose files: where an environment sets the default. */
export function isEnvironmentFileName(name: string): boolean {
  return name === ".env" || /^(?:docker-)?compose(?:[-.][^/]*)?\.ya?ml$/.test(name);
}

/**
 * The default pod template set through the environment: `KEY=value` lines of a `.env`, or the
 * `environment` (a mapping or a `KEY=value` list, anchors and merges followed) of a compose file's
 * services. The same value set for several services is one setting.
 */
export function scanEnvironmentFile(file: string, text: string): ScanResult {
  const result = emptyScanResult();
  result.files.push(file);
  const found: Array<{ variable: string; value: string; line: number }> = [];
  if (posix.basename(file) === ".env") {
    text.split(/\r?\n/).forEach((line, index) => {
      const pair = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
      if (pair && [...templateVariables, EXECUTOR_VARIABLE].includes(pair[1]!)) {
        found.push({ variable: pair[1]!, value: pair[2]!.replace(/^(["'])(.*)\1$/, "$2"), line: index + 1 });
      }
    });
  } else {
    const parsed = parseYamlFile(file, text);
    if ("message" in parsed) {
      result.problems.push(parsed);
      return result;
    }
    const { document, lineCounter } = parsed;
    const services = yamlAt(document, document.contents, ["services"]);
    for (const service of isMap(services) ? services.items : []) {
      const environment = yamlAt(document, service.value, ["environment"]);
      for (const variable of [...templateVariables, EXECUTOR_VARIABLE]) {
        const node = isSeq(environment)
          ? environment.items.find((item) => isScalar(item) && String(item.value).startsWith(`${variable}=`))
          : yamlAt(document, environment, [variable]);
        if (!isScalar(node) || node.value === null) continue;
        const raw = String(node.value);
        const value = isSeq(environment) ? raw.slice(variable.length + 1) : raw;
        found.push({ variable, value, line: lineCounter.linePos(node.range?.[0] ?? 0).line });
      }
    }
  }
  // Several services setting the same executor are one setting.
  const executors = new Set<string>();
  for (const entry of found.filter((candidate) => candidate.variable === EXECUTOR_VARIABLE)) {
    // `${EXECUTOR:-CeleryExecutor}` is the deployment's to expand: not a fact here.
    if (/^$|\$|\{\{/.test(entry.value.trim()) || executors.has(entry.value.trim())) continue;
    executors.add(entry.value.trim());
    (result.executors ??= []).push({
      file,
      line: entry.line,
      executor: entry.value.trim(),
      from: "environment",
    });
  }
  // The newer variable wins; several services setting the same value are one setting.
  for (const variable of templateVariables) {
    const values = new Set<string>();
    for (const entry of found.filter((candidate) => candidate.variable === variable)) {
      if (values.has(entry.value)) continue;
      values.add(entry.value);
      defaultReference(result, file, entry.line, entry.value, true);
    }
    if (values.size > 0) break;
  }
  return result;
}

/**
 * The repository paths a reference may mean, most specific first; null when the path leaves the
 * repository. A relative path is relative to the repository's root. An absolute path is a path inside
 * the deployment's image or volume (`/opt/airflow/dags/pod.yaml`), and a joined one
 * (`os.path.join(AIRFLOW_HOME, "pod.yaml")`) knows only its end: both mean the file at their longest
 * tail that exists in the repository (`dags/pod.yaml`, then `pod.yaml`).
 */
export function templatePathCandidates(
  reference: Pick<PodTemplateReference, "path" | "tail">,
): string[] | null {
  // A name from someone else's repository: control characters would break the patch's header lines.
  if (/[\u0000-\u001f\u007f]/.test(reference.path)) return null;
  const path = reference.path.replace(/\\/g, "/");
  const absolute = path.startsWith("/");
  const normalized = posix.normalize(absolute ? path : `./${path}`).replace(/^\/+/, "");
  if (normalized === ".." || normalized.startsWith("../")) return null;
  if (!absolute && !reference.tail) return [normalized];
  const segments = normalized.split("/").filter((segment) => segment !== "" && segment !== ".");
  return segments.map((_, index) => segments.slice(index).join("/"));
}

interface TemplateValue extends YamlScalarValue {
  resource: Resource;
  kind: RequestKind;
  unit: QuantityUnit;
}

/** The `base` container's requests and limits in a pod template's text. */
export function podTemplateValues(
  file: string,
  text: string,
): { values: TemplateValue[]; problem: ScanProblem | null } {
  const parsed = parseYamlFile(file, text);
  if ("message" in parsed) return { values: [], problem: parsed };
  const { document, lineCounter } = parsed;
  const containers = yamlAt(document, document.contents, ["spec", "containers"]);
  const base = isSeq(containers) ? yamlAt(document, containers, [0]) : undefined;
  const name = yamlAt(document, base, ["name"]);
  if (!isMap(base) || !isScalar(name) || name.value !== "base") {
    return {
      values: [],
      problem: {
        file,
        line: 1,
        message:
          "not a pod template: spec.containers[0] is not a container named base (Airflow's requirement); not read",
      },
    };
  }
  const values: TemplateValue[] = [];
  for (const [key, kind] of Object.entries(resourceRequirementKinds)) {
    for (const [resourceKey, meaning] of Object.entries(resourceRequirementKeys)) {
      const scalar = yamlScalarValue(
        text,
        yamlAt(document, base, ["resources", key, resourceKey]),
        lineCounter,
      );
      if (scalar) values.push({ ...scalar, ...meaning, kind });
    }
  }
  return { values, problem: null };
}

/**
 * The repository path an absolute reference maps to by the longest configured image folder it is in
 * (`sources.imagePaths`); null when none holds it, or when the rest would leave the folder.
 */
function mappedPath(
  reference: Pick<PodTemplateReference, "path" | "tail">,
  imagePaths: readonly ImagePath[],
): (ImagePath & { path: string }) | null {
  if (reference.tail || !reference.path.startsWith("/")) return null;
  const path = posix.normalize(reference.path);
  const mapping = [...imagePaths]
    .filter((entry) => path.startsWith(`${entry.image}/`))
    .sort((a, b) => b.image.length - a.image.length)[0];
  if (!mapping) return null;
  const rest = path.slice(mapping.image.length + 1);
  return { ...mapping, path: mapping.repository ? `${mapping.repository}/${rest}` : rest };
}

/**
 * The one repository file named like an absolute or joined reference's file, when no tail of the
 * reference is in the repository; null for a relative path, or when none or several files have the name.
 */
function byFileName(
  reference: Pick<PodTemplateReference, "path" | "tail">,
  candidates: readonly string[],
  repositoryFiles: readonly string[],
): string | null {
  if (!reference.tail && !reference.path.startsWith("/")) return null;
  const name = candidates.at(-1);
  if (!name) return null;
  const matches = repositoryFiles.filter((file) => posix.basename(file) === name);
  return matches.length === 1 ? matches[0]! : null;
}

/**
 * Patterns through which a task sizes its own pod: the template's resources don't reach it (in Python or
 * in a dag-factory file alike).
 */
const ownPodPatterns = new Set([
  "pod_override",
  "kubernetes_executor",
  "container_resources",
  "dag_factory_pod_override",
  "dag_factory_kubernetes_executor",
  "dag_factory_container_resources",
]);

/**
 * Reads the pod templates the scan found references to and adds their findings. A per-task template
 * belongs to its task; the default one (every setting of it must agree) to every Airflow task
 * without its own template and without resources of its own pod (a `pod_override`'s resources replace
 * the template's whole; a KubernetesPodOperator's work runs in the pod it starts).
 */
export function applyPodTemplates(
  result: ScanResult,
  read: ReadRepositoryFile,
  repositoryFiles: readonly string[] = [],
  imagePaths: readonly ImagePath[] = [],
): void {
  const problem = (reference: PodTemplateReference, message: string) =>
    result.problems.push({ file: reference.file, line: reference.line, message });
  // The environment's setting wins over airflow.cfg's, as Airflow reads its configuration.
  const configured = result.podTemplates.filter((reference) => reference.task === null);
  const fromEnvironment = configured.filter((reference) => reference.fromEnvironment);
  const defaults = fromEnvironment.length > 0 ? fromEnvironment : configured;
  const perTask = result.podTemplates.filter((reference) => reference.task !== null);
  const distinct = new Set(defaults.map((reference) => `${reference.tail}:${reference.path}`));
  if (distinct.size > 1) {
    for (const reference of defaults) {
      problem(
        reference,
        `the repository names different default pod templates (${defaults.map((other) => `${other.file}:${other.line}`).join(", ")}); none applied`,
      );
    }
  }
  const ownsPod = new Set(
    result.findings
      .filter((finding) => finding.orchestrator === "airflow" && ownPodPatterns.has(finding.pattern))
      .flatMap((finding) => finding.tasks.map((task) => `${finding.pipeline}\u0000${task}`)),
  );
  const withTemplate = new Set(
    perTask.map((reference) => `${reference.task!.pipeline}\u0000${reference.task!.task}`),
  );

  // Who gets each template: (template reference, pipeline, via) → tasks.
  const assignments: Array<{
    reference: PodTemplateReference;
    pipeline: string;
    via: Finding["via"];
    tasks: string[];
  }> = [];
  const assign = (reference: PodTemplateReference, pipeline: string, task: string, via: Finding["via"]) => {
    if (ownsPod.has(`${pipeline}\u0000${task}`)) return;
    const existing = assignments.find(
      (entry) => entry.reference === reference && entry.pipeline === pipeline && entry.via === via,
    );
    if (existing) {
      if (!existing.tasks.includes(task)) existing.tasks.push(task);
    } else assignments.push({ reference, pipeline, via, tasks: [task] });
  };
  for (const reference of perTask)
    assign(reference, reference.task!.pipeline, reference.task!.task, reference.task!.via);
  if (distinct.size === 1) {
    for (const site of result.tasks) {
      if (site.orchestrator !== "airflow" || withTemplate.has(`${site.pipeline}\u0000${site.task}`)) continue;
      assign(defaults[0]!, site.pipeline, site.task, "executor_default");
    }
  }

  const templates = new Map<string, { file: string; values: TemplateValue[]; note?: string } | null>();
  const load = (reference: PodTemplateReference) => {
    const key = `${reference.tail}:${reference.path}`;
    if (templates.has(key)) return templates.get(key)!;
    let loaded: { file: string; values: TemplateValue[]; note?: string } | null = null;
    const candidates = templatePathCandidates(reference);
    if (candidates === null) {
      problem(
        reference,
        `pod_template_file ${JSON.stringify(reference.path)} leaves the repository or is not a plain path; not read`,
      );
    } else {
      let candidate = "";
      let file: RepositoryFile = { kind: "missing" };
      const mapped = mappedPath(reference, imagePaths);
      for (const path of mapped ? [mapped.path] : candidates) {
        candidate = path;
        file = read(path);
        if (file.kind !== "missing") break;
      }
      // A path inside the worker's image (or joined onto an unknown folder) that no tail of matches:
      // the repository's only file of that name, said so, since the image may lay files out otherwise.
      let note: string | undefined;
      const named = mapped ? null : byFileName(reference, candidates, repositoryFiles);
      if (file.kind === "missing" && named) {
        candidate = named;
        file = read(named);
        note = `pod_template_file ${JSON.stringify(reference.path)} (${reference.file}:${reference.line}) matched to ${named}, the only file of that name in the repository`;
      }
      if (mapped && file.kind !== "missing") {
        note = `pod_template_file ${JSON.stringify(reference.path)} (${reference.file}:${reference.line}) mapped to ${mapped.path} by sources.imagePaths (${mapped.image}=${mapped.repository})`;
      }
      if (file.kind === "missing") {
        problem(
          reference,
          mapped
            ? `pod_template_file ${JSON.stringify(reference.path)} maps to ${mapped.path} by sources.imagePaths, which is not in the repository; its requests are not known`
            : `pod_template_file ${JSON.stringify(reference.path)} is not in the repository; its requests are not known`,
        );
      } else if (file.kind === "refused") {
        result.problems.push({ file: candidate, line: 1, message: file.message });
      } else {
        const template = podTemplateValues(candidate, file.text);
        if (!result.files.includes(candidate)) result.files.push(candidate);
        if (template.problem) result.problems.push(template.problem);
        else loaded = { file: candidate, values: template.values, ...(note ? { note } : {}) };
      }
    }
    templates.set(key, loaded);
    return loaded;
  };
  // Every reference is resolved (and reported) once, even when every task it names sizes its own pod.
  for (const reference of [...perTask, ...(distinct.size === 1 ? defaults : [])]) {
    const template = load(reference);
    if (!template) continue;
    (result.podTemplateValues ??= []).push({
      file: template.file,
      task: reference.task,
      values: template.values.flatMap((value) => {
        const number = value.literal ? parseDeclared(value.unit, value.literal) : Number.NaN;
        return Number.isFinite(number)
          ? [{ resource: value.resource, kind: value.kind, value: number, line: value.line }]
          : [];
      }),
    });
  }

  for (const { reference, pipeline, via, tasks } of assignments) {
    const template = load(reference);
    if (!template) continue;
    for (const value of template.values) {
      const number = value.literal ? parseDeclared(value.unit, value.literal) : Number.NaN;
      const dynamic = value.literal === null || !Number.isFinite(number);
      result.findings.push({
        file: template.file,
        line: value.line,
        column: value.column,
        start: value.start,
        end: value.end,
        raw: value.raw,
        literal: dynamic ? null : value.literal,
        unit: value.unit,
        value: dynamic ? null : number,
        dynamic,
        resource: value.resource,
        kind: value.kind,
        pattern: "pod_template",
        orchestrator: "airflow",
        pipeline,
        tasks: [...tasks].sort(),
        via,
        ...(template.note ? { note: template.note } : {}),
      });
    }
  }
}
