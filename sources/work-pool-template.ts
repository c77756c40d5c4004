/**
 * Prefect work-pool base job templates: the JSON that `prefect work-pool create NAME
 * --base-job-template FILE.json` takes and `prefect work-pool get-default-base-job-template --type T`
 * prints — `job_configuration` (the job, with `{{ variable }}` placeholders) and `variables` (a JSON
 * schema whose `properties.<name>.default` fill the placeholders a deployment does not set in its
 * `job_variables`). The pool's own API shape (`{"name": …, "base_job_template": {…}}`, as `prefect
 * work-pool inspect` and Terraform's `prefect_work_pool` hold it) is read too. Pure: a file's text in,
 * findings out; JSON is parsed by the `yaml` package (JSON is YAML 1.2), whose node ranges let a patch
 * replace one value and keep the file's indentation and key order.
 *
 * Upstream, PrefectHQ/prefect at ce79dd3:
 * - src/prefect/workers/base.py `BaseJobConfiguration.from_template_and_values`: the variables' non-null
 *   defaults, updated by the deployment's (and flow run's) job variables, fill the placeholders of
 *   `job_configuration` (`apply_values`) — so a deployment inherits a default exactly when it does not set
 *   that variable;
 * - src/integrations/prefect-kubernetes/prefect_kubernetes/worker.py: `job_manifest` holds a Kubernetes
 *   Job; its container's `resources.requests` / `resources.limits` take quantities (the default template
 *   places `cpu_request`, `cpu_limit`, `memory_request`, `memory_limit` there; the module docstring's
 *   custom example writes `"{{ memory }}Mi"`);
 * - src/integrations/prefect-aws/prefect_aws/workers/ecs_worker.py: `task_definition.cpu` / `memory` and
 *   `task_run_request.overrides` (and their containers) take CPU units and MiB;
 * - src/integrations/prefect-gcp/prefect_gcp/workers/cloud_run.py and cloud_run_v2.py: `job_body`'s
 *   container `resources.limits` take quantities; Cloud Run has no requests, the limit is what a job gets
 *   and pays for, so it is read as the request.
 */
import { posix } from "node:path";
import { type Document, isMap, isScalar, isSeq, type Scalar } from "yaml";
import { parseYamlFile } from "./yaml-scalars.js";
import {
  prefectLimitVariables,
  resourceRequirementKeys,
  resourceRequirementKinds,
} from "./declaration-patterns.js";
import {
  emptyScanResult,
  type Finding,
  type RequestKind,
  type Resource,
  type ScanResult,
  type WorkPoolVariables,
} from "./findings.js";
import { prefectUnit } from "./prefect.js";
import { type Literal, parseDeclared, type QuantityUnit } from "./quantities.js";
import { deref, entries, lookup, scalarFinding, type YamlNode } from "./yaml-values.js";

/** A cheap look before parsing: only JSON files naming `job_configuration` are parsed at all. */
export function looksLikeWorkPoolTemplate(text: string): boolean {
  return text.includes('"job_configuration"');
}

/** How a place in `job_configuration` reads its value. */
type Style = "kubernetes" | "kubernetes-mebibytes" | "ecs";

interface Place {
  resource: Resource;
  kind: RequestKind;
  style: Exclude<Style, "kubernetes-mebibytes">;
}

/**
 * Where in `job_configuration` a value sizes the job the flow runs in, from its key path (list items
 * count as their index); null elsewhere. Only the first container: the Kubernetes worker runs the flow
 * in `containers[0]` (its `_get_default_job_manifest_template`), so init containers and sidecars keep
 * their own sizes.
 */
function placeOf(path: string[]): Place | null {
  const resourceKey = path.at(-1)!;
  const requirement = resourceRequirementKeys[resourceKey];
  if (!requirement) return null;
  const [groupKey, resourcesKey, index, containersKey] = [
    path.at(-2)!,
    path.at(-3),
    path.at(-4),
    path.at(-5),
  ];
  const kind = resourceRequirementKinds[groupKey];
  if (kind && resourcesKey === "resources" && index === "0" && containersKey === "containers") {
    const cloudRun = path[0] === "job_body";
    return { resource: requirement.resource, kind: cloudRun ? "request" : kind, style: "kubernetes" };
  }
  const ecs = path.slice(0, -1).join(".");
  if (
    [
      "task_definition",
      "task_definition.containerDefinitions.0",
      "task_run_request.overrides",
      "task_run_request.overrides.containerOverrides.0",
    ].includes(ecs)
  ) {
    return { resource: requirement.resource, kind: "request", style: "ecs" };
  }
  return null;
}

function unitOf(style: Style, resource: Resource, literal: Literal | null): QuantityUnit {
  switch (style) {
    case "kubernetes":
      return resource === "cpu" ? "k8s-cpu" : "k8s-memory";
    case "kubernetes-mebibytes":
      // `"{{ memory }}Mi"`: the variable holds a number of MiB that Kubernetes sizes.
      return "MB";
    case "ecs":
      return prefectUnit(resource, literal);
  }
}

/**
 * The pool's name: the API shape's `name`, else the file's name (`k8s-pool.json`,
 * `k8s-pool.base-job-template.json`), else its folder's (`k8s-pool/base-job-template.json`).
 */
function poolNameOf(file: string, document: Document): string | null {
  const named = deref(document, lookup(document, document.contents, "name"));
  if (isScalar(named) && typeof named.value === "string" && named.value) return named.value;
  const stem = posix
    .basename(file)
    .replace(/\.json$/i, "")
    .replace(/[._-]?base[._-]job[._-]template$/i, "");
  if (stem) return stem;
  const folder = posix.basename(posix.dirname(file));
  return folder && folder !== "." ? folder : null;
}

/** Every scalar under `node` with its key path (a list item's key is its index). */
function scalarsUnder(
  document: Document,
  node: YamlNode,
  path: string[],
  visit: (scalar: Scalar, path: string[]) => void,
): void {
  const value = deref(document, node);
  if (isScalar(value)) visit(value, path);
  else if (isSeq(value))
    value.items.forEach((item, index) => scalarsUnder(document, item, [...path, String(index)], visit));
  else if (isMap(value))
    for (const [key, child] of entries(document, value)) scalarsUnder(document, child, [...path, key], visit);
}

/**
 * Scans one JSON file as a work-pool base job template. Returns null when it is not one. The findings
 * name the pool (`workPool`) and no task yet: {@link settleWorkPoolDefaults} gives them to the
 * deployments that inherit them once every file is scanned.
 */
export function scanWorkPoolTemplate(file: string, text: string): ScanResult | null {
  if (!looksLikeWorkPoolTemplate(text)) return null;
  const parsed = parseYamlFile(file, text, "JSON");
  const result = emptyScanResult();
  if ("message" in parsed) {
    result.files.push(file);
    result.problems.push(parsed);
    return result;
  }
  const { document, lineCounter } = parsed;
  const root = document.contents;
  const template = isMap(lookup(document, root, "job_configuration"))
    ? root
    : lookup(document, root, "base_job_template");
  const configuration = lookup(document, template, "job_configuration");
  if (!isMap(configuration)) return null;
  result.files.push(file);
  const pool = poolNameOf(file, document);
  if (pool === null) {
    result.problems.push({
      file,
      line: 1,
      message:
        "a work-pool base job template, but its pool cannot be told (name the file after the pool); file skipped",
    });
    return result;
  }
  const meaning = (place: Place, variable?: string) => ({
    resource: place.resource,
    kind: place.kind,
    pattern: "work_pool_template" as const,
    orchestrator: "prefect" as const,
    pipeline: pool,
    tasks: [] as string[],
    via: "work_pool" as const,
    workPool: pool,
    ...(variable ? { variable } : {}),
  });
  const named = new Set<string>();
  const placed = new Map<string, { place: Place; style: Style }>();
  const sizing: NonNullable<WorkPoolVariables["sizing"]> = [];
  const findings: Finding[] = [];
  scalarsUnder(document, configuration, [], (scalar, path) => {
    if (typeof scalar.value === "string") {
      for (const match of scalar.value.matchAll(/\{\{\s*([\w-]+)\s*\}\}/g)) named.add(match[1]!);
    }
    const place = placeOf(path);
    if (!place || !scalar.range || scalar.value === null) return;
    const value = typeof scalar.value === "string" ? scalar.value.trim() : null;
    const placeholder = value === null ? null : /^\{\{\s*([\w-]+)\s*\}\}(Mi)?$/.exec(value);
    sizing.push({
      resource: place.resource,
      kind: place.kind,
      variable: placeholder?.[1] ?? null,
      line: lineCounter.linePos(scalar.range[0]).line,
    });
    if (placeholder && (!placeholder[2] || place.resource === "memory")) {
      const style: Style = placeholder[2] ? "kubernetes-mebibytes" : place.style;
      const earlier = placed.get(placeholder[1]!);
      // A variable placed as a request anywhere (ECS puts `cpu` in the task definition and the
      // overrides) is a request.
      if (!earlier || (earlier.place.kind === "limit" && place.kind === "request"))
        placed.set(placeholder[1]!, { place, style });
      return;
    }
    // A value written into the job itself (or a template around a variable): every deployment of the
    // pool gets it, whatever its job variables.
    findings.push(
      scalarFinding(
        file,
        text,
        scalar,
        lineCounter,
        (literal) => unitOf(place.style, place.resource, literal),
        meaning(place),
      ),
    );
  });
  const properties = lookup(document, lookup(document, template, "variables"), "properties");
  for (const [variable, { place, style }] of placed) {
    const fallback = deref(document, lookup(document, lookup(document, properties, variable), "default"));
    // A variable without a default (or a null one) leaves the placeholder unset: nothing is inherited.
    if (!isScalar(fallback) || !fallback.range || fallback.value === null) continue;
    findings.push(
      scalarFinding(
        file,
        text,
        fallback,
        lineCounter,
        (literal) => unitOf(style, place.resource, literal),
        meaning(place, variable),
      ),
    );
  }
  result.findings.push(...findings.sort((a, b) => a.start - b.start));
  result.workPools = [
    {
      pool,
      file,
      line: configuration.range ? lineCounter.linePos(configuration.range[0]).line : 1,
      variables: [...named].sort(),
      sizing,
    },
  ];
  return result;
}

/**
 * A deployment's own value of a variable the pool's template places in a Kubernetes resource is read as
 * the template reads it (prefect.yaml alone cannot tell: numbers there are taken for ECS units): a number
 * for `"{{ memory }}Mi"` is MiB, anything else a Kubernetes quantity — so it is sized for Kubernetes, not
 * Fargate.
 */
function readAsTemplateDoes(findings: Finding[], pipeline: string, template: Finding): void {
  if (template.unit !== "MB" && template.unit !== "k8s-cpu" && template.unit !== "k8s-memory") return;
  for (const own of findings) {
    if (own.pipeline !== pipeline || own.variable !== template.variable || own.literal === null) continue;
    if (own.pattern !== "prefect_yaml" && own.pattern !== "prefect_deploy") continue;
    const numeric = own.literal.kind === "number" || /^\d+$/.test(own.literal.text.trim());
    const unit: QuantityUnit =
      template.unit === "MB"
        ? numeric
          ? "MB"
          : own.unit
        : own.resource === "cpu"
          ? "k8s-cpu"
          : "k8s-memory";
    const value = parseDeclared(unit, own.literal);
    if (!Number.isFinite(value)) continue;
    Object.assign(own, { unit, value });
  }
}

/**
 * Gives each work-pool finding to the Prefect deployments that inherit it: those naming the pool
 * (`work_pool.name` in prefect.yaml, `work_pool_name=` in `.deploy`) that do not set the variable
 * themselves — all of them for a value written into the job. One finding per deployment at the same
 * place, as prefect.yaml anchors do, so the patcher sees whether they agree; a default no deployment of
 * the repository inherits is dropped (the pool may serve other repositories).
 */
export function settleWorkPoolDefaults(result: ScanResult): void {
  dropUnusedLimitVariables(result);
  const settled: Finding[] = [];
  for (const finding of result.findings) {
    if (finding.pattern !== "work_pool_template" || finding.tasks.length > 0) {
      settled.push(finding);
      continue;
    }
    const seen = new Set<string>();
    for (const site of result.tasks) {
      const pool = site.workPool;
      if (site.orchestrator !== "prefect" || !pool || pool.name !== finding.workPool) continue;
      if (finding.variable && pool.variables.includes(finding.variable)) {
        readAsTemplateDoes(result.findings, site.pipeline, finding);
        continue;
      }
      if (seen.has(site.pipeline)) continue;
      seen.add(site.pipeline);
      settled.push({ ...finding, pipeline: site.pipeline, tasks: [site.task] });
    }
  }
  result.findings = settled;
}

/**
 * A deployment's `cpu_limit` / `memory_limit` is a limit only where its pool's base job template, found
 * in the repository, names the variable (as Prefect's default Kubernetes template does); elsewhere it
 * sizes nothing, and is no declaration.
 */
function dropUnusedLimitVariables(result: ScanResult): void {
  const named = new Map<string, Set<string>>();
  for (const template of result.workPools ?? []) {
    named.set(template.pool, new Set([...(named.get(template.pool) ?? []), ...template.variables]));
  }
  result.findings = result.findings.filter((finding) => {
    if (finding.pattern !== "prefect_yaml" && finding.pattern !== "prefect_deploy") return true;
    if (finding.kind !== "limit" || !finding.variable || !(finding.variable in prefectLimitVariables))
      return true;
    return finding.tasks.some((task) => {
      const site = result.tasks.find(
        (candidate) =>
          candidate.orchestrator === "prefect" &&
          candidate.pipeline === finding.pipeline &&
          candidate.task === task,
      );
      const pool = site?.workPool?.name;
      return pool !== undefined && (named.get(pool)?.has(finding.variable!) ?? false);
    });
  });
}
