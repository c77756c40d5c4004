/**
 * A task's whole declaration of one pattern, as Python or dag-factory YAML source text with the values
 * it wants (pure), for a per-task override.
 */
import type { TaskAnalysis } from "../common/analysis-document.js";
import { yamlTaskKeywordOfPattern } from "./declaration-patterns.js";
import type { Pattern, RequestKind, Resource, ScanResult, TaskSite } from "./findings.js";
import { PatchError } from "./patch-plan.js";
import { literalSource, wantedFor } from "./patch-values.js";

/** A flow mapping, or null for an empty one (left out of its parent). */
function nonEmpty(text: string): string | null {
  return text === "{}" ? null : text;
}

/** The whole declaration of `pattern` for one task, with its wanted values (dynamic ones copied as written). */
export function renderDeclaration(
  scan: ScanResult,
  site: TaskSite,
  pattern: Pattern,
  recommendations: Map<string, TaskAnalysis>,
): string {
  const value = (resource: Resource, kind: RequestKind): string | null => {
    const finding = scan.findings.find(
      (candidate) =>
        candidate.pattern === pattern &&
        candidate.pipeline === site.pipeline &&
        candidate.tasks.includes(site.task) &&
        candidate.resource === resource &&
        candidate.kind === kind,
    );
    if (!finding) return null;
    if (finding.dynamic || !finding.literal) return finding.raw;
    return literalSource(finding, wantedFor(finding, site.task, scan, recommendations).text);
  };
  // YAML flow mappings (dag-factory) write plain keys, Python dicts quoted ones.
  const yaml = yamlTaskKeywordOfPattern[pattern] !== undefined;
  const dict = (entries: Array<[string, string | null]>) =>
    `{${entries
      .filter((entry): entry is [string, string] => entry[1] !== null)
      .map(([key, text]) => `${yaml ? key : `"${key}"`}: ${text}`)
      .join(", ")}}`;
  const yamlRequirements = () =>
    dict([
      ["__type__", "kubernetes.client.models.V1ResourceRequirements"],
      [
        "requests",
        nonEmpty(
          dict([
            ["cpu", value("cpu", "request")],
            ["memory", value("memory", "request")],
          ]),
        ),
      ],
      [
        "limits",
        nonEmpty(
          dict([
            ["cpu", value("cpu", "limit")],
            ["memory", value("memory", "limit")],
          ]),
        ),
      ],
    ]);
  const requirements = () => {
    const parts: string[] = [];
    const requests = dict([
      ["cpu", value("cpu", "request")],
      ["memory", value("memory", "request")],
    ]);
    const limits = dict([
      ["cpu", value("cpu", "limit")],
      ["memory", value("memory", "limit")],
    ]);
    if (requests !== "{}") parts.push(`requests=${requests}`);
    if (limits !== "{}") parts.push(`limits=${limits}`);
    return `${site.k8sModule}.V1ResourceRequirements(${parts.join(", ")})`;
  };
  switch (pattern) {
    case "dag_factory_resources":
    case "resources":
      return dict([
        ["cpus", value("cpu", "request")],
        ["ram", value("memory", "request")],
      ]);
    case "dag_factory_kubernetes_executor":
    case "kubernetes_executor":
      return `{${yaml ? "KubernetesExecutor" : '"KubernetesExecutor"'}: ${dict([
        ["request_cpu", value("cpu", "request")],
        ["limit_cpu", value("cpu", "limit")],
        ["request_memory", value("memory", "request")],
        ["limit_memory", value("memory", "limit")],
      ])}}`;
    case "pod_override": {
      const k8s = site.k8sModule;
      return `{"pod_override": ${k8s}.V1Pod(spec=${k8s}.V1PodSpec(containers=[${k8s}.V1Container(name="base", resources=${requirements()})]))}`;
    }
    case "container_resources":
      return requirements();
    // dag-factory builds objects from `__type__` mappings (dagfactory/utils.py `cast_with_type`).
    case "dag_factory_container_resources":
      return yamlRequirements();
    case "dag_factory_pod_override":
      return `{pod_override: {__type__: kubernetes.client.models.V1Pod, spec: {__type__: kubernetes.client.models.V1PodSpec, containers: [{__type__: kubernetes.client.models.V1Container, name: base, resources: ${yamlRequirements()}}]}}}`;
    default:
      throw new PatchError(`${site.file}: no per-task override for ${pattern}`);
  }
}
