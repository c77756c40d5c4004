/**
 * dag-factory YAML DAG definitions (astronomer/dag-factory): a YAML file whose top-level keys are DAG ids,
 * each a mapping with `tasks` (a mapping of task ids to their arguments, or a list of mappings with
 * `task_id`), `default_args`, and `task_groups`; a top-level `default` mapping holds defaults for every
 * DAG of the file. Each task's arguments (all but `operator`, `decorator`, `dependencies`,
 * `task_group_name`, `parent_group_name`) go to its operator, so requests are declared as in Python:
 * `resources: {cpus, ram}`, `executor_config: {pod_override: …}` or `{KubernetesExecutor: {…}}`, and
 * KubernetesPodOperator's `container_resources`. Objects are spelled with `__type__` (dag-factory
 * ≥ 0.23: `__type__: kubernetes.client.models.V1Pod` and keyword arguments beside it; a list as
 * `{__type__: builtins.list, items: […]}`); older files wrote `container_resources` as a plain mapping.
 * Pure: a file's text in, findings with the exact ranges of the scalars out.
 *
 * Upstream, astronomer/dag-factory at 317e716:
 * - dagfactory/dagfactory.py `DagFactory.build_dags`: top-level keys but `default` and `task_groups`
 *   are DAGs (`SYSTEM_PARAMS`), and the DAG's key is its dag_id (`DagBuilder.get_dag_params`);
 * - dagfactory/utils.py `merge_configs`: a DAG's config is deep-merged over `default` (mappings key by
 *   key, anything else replaced whole); `cast_with_type`, applied at load (dagfactory/_yaml.py), turns
 *   `__type__` mappings into objects first, so those are never merged into;
 * - dagfactory/dagbuilder.py `_normalise_tasks_config`, `make_nested_task_groups` and `build`: the task
 *   forms, `task_group_name` and nested groups (`parent_group_name`);
 * - dagfactory/_yaml.py `load_yaml_file`: `os.path.expandvars` runs on the text before loading, so a
 *   `$VAR` in a value is dynamic.
 * - dagfactory/dagfactory.py `_retrieve_possible_default_config_dirs` (line 92),
 *   `_retrieve_default_yaml_filepaths` (113), `_merge_default_args_from_list_configs` (142) and
 *   `build_dags` (221, 233): a `defaults.yml` (else `defaults.yaml`, dagfactory/constants.py:7
 *   `DEFAULTS_FILE_NAMES`) in the DAG file's folder and each folder above it up to `defaults_config_path`
 *   (default `[core] dags_folder`) holds defaults; their `default_args` are merged key by key, each key's
 *   value whole, the nearest file winning, and the file's own `default.default_args` keys win over theirs
 *   the same way, before a DAG's config is deep-merged over the result (dagfactory/dagbuilder.py:181,
 *   dagfactory/utils.py:86 `merge_configs`).
 * Airflow merges `default_args` into an operator's arguments one keyword at a time, a TaskGroup's
 * `default_args` over the DAG's (airflow/models/baseoperator.py `_get_parent_defaults`) and an inner
 * group's over its parent's (airflow/utils/task_group.py `_update_default_args`).
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, Scalar } from "yaml";
import { parseYamlFile } from "./yaml-scalars.js";
import {
  airflowResourcesKeys,
  type KeyMeaning,
  legacyKubernetesExecutorKeys,
  resourceRequirementKeys,
  resourceRequirementKinds,
} from "./declaration-patterns.js";
import {
  emptyScanResult,
  type Finding,
  type Pattern,
  type ScanResult,
  type TaskKeyword,
  type TaskSite,
} from "./findings.js";
import { deref, entries, lookup, scalarFinding, type YamlNode } from "./yaml-values.js";

/** Top-level keys of a dag-factory file that are no DAG (dagfactory/dagfactory.py `SYSTEM_PARAMS`). */
const systemKeys = new Set(["default", "task_groups"]);

/**
 * A cheap look at the text before parsing: a dag-factory file has a `tasks:` key and tasks with an
 * `operator:` or `decorator:`. Other YAML files (CI workflows, Helm charts, whose templates are not
 * YAML at all) are left alone without a parse or a warning.
 */
export function looksLikeDagFactory(text: string): boolean {
  return /^[ \t]*tasks[ \t]*:/m.test(text) && /^[ \t]*(?:-[ \t]+)?(?:operator|decorator)[ \t]*:/m.test(text);
}

/** A parsed YAML file a value can come from: the DAG file itself, or a `defaults.yml` above it. */
export interface YamlSource {
  file: string;
  text: string;
  document: Document;
  lineCounter: LineCounter;
}

/** One layer of an argument's value: a node, and the file it is written in. */
interface Layer {
  source: YamlSource;
  node: YamlNode;
}

/** Is this YAML node a dag-factory object (`__type__: …`), which dag-factory never merges into? */
function isTyped(document: Document, node: YamlNode): boolean {
  return isMap(deref(document, node)) && lookup(document, node, "__type__") !== undefined;
}

/**
 * The layers of one argument, highest priority first, one key down: `merge_configs` merges mappings key
 * by key down to the first layer that is not a plain mapping (an object or a scalar replaces the rest).
 */
function layeredChild(layers: Layer[], key: string): Layer[] {
  const merging: Layer[] = [];
  for (const layer of layers) {
    const { document } = layer.source;
    const node = deref(document, layer.node);
    if (!isMap(node)) break;
    // An object is read alone when it wins, and never merged under a mapping above it.
    if (isTyped(document, node)) {
      if (merging.length === 0) merging.push({ source: layer.source, node });
      break;
    }
    merging.push({ source: layer.source, node });
  }
  return merging.flatMap(({ source, node }) => {
    const child = lookup(source.document, node, key);
    return child === undefined ? [] : [{ source, node: child }];
  });
}

/** The items of a list, plain or spelled `{__type__: builtins.list, items: […]}`. */
function listItems(document: Document, node: YamlNode): YamlNode[] {
  const value = deref(document, node);
  if (isSeq(value)) return value.items.map((item) => deref(document, item));
  if (isMap(value) && lookup(document, value, "__type__") !== undefined) {
    const items = lookup(document, value, "items");
    if (isSeq(items)) return items.items.map((item) => deref(document, item));
  }
  return [];
}

/** A scalar's text, or null. */
function scalarText(document: Document, node: YamlNode): string | null {
  const value = deref(document, node);
  return isScalar(value) && value.value !== null && value.value !== undefined ? String(value.value) : null;
}

/** A `queue` value as Airflow gets it; null when computed (a `$VAR`, Jinja) or not a plain scalar. */
function queueName(layer: Layer): string | null {
  const text = scalarText(layer.source.document, layer.node);
  return text === null || /\$|\{\{/.test(text) ? null : text;
}

interface Group {
  name: string;
  parent: string | null;
  prefix: boolean;
  defaultArgs: YamlNode;
}

/** A DAG's task groups by name, from the mapping or the list form. */
function taskGroups(document: Document, dag: YamlNode): Map<string, Group> {
  const groups = new Map<string, Group>();
  const add = (name: string, conf: YamlNode) => {
    groups.set(name, {
      name,
      parent: scalarText(document, lookup(document, conf, "parent_group_name")),
      // TaskGroup's prefix_group_id defaults to True (airflow/utils/task_group.py).
      prefix: scalarText(document, lookup(document, conf, "prefix_group_id"))?.toLowerCase() !== "false",
      defaultArgs: lookup(document, conf, "default_args"),
    });
  };
  const value = lookup(document, dag, "task_groups");
  if (isSeq(deref(document, value))) {
    for (const item of listItems(document, value)) {
      const name = scalarText(document, lookup(document, item, "group_name"));
      if (name !== null) add(name, item);
    }
  } else {
    for (const [name, conf] of entries(document, value)) add(name, conf);
  }
  return groups;
}

/** The groups a task is in, innermost first (a cycle of parents ends where it repeats). */
function groupChain(groups: Map<string, Group>, name: string | null): Group[] {
  const chain: Group[] = [];
  for (let group = name ? groups.get(name) : undefined; group && !chain.includes(group);) {
    chain.push(group);
    group = group.parent ? groups.get(group.parent) : undefined;
  }
  return chain;
}

/**
 * The task id Airflow gives a task in these groups: each group with `prefix_group_id` (the default)
 * prefixes its id, and a group's id carries its parent's prefix (airflow/utils/task_group.py
 * `TaskGroup.child_id` and `group_id`).
 */
function taskIdIn(chain: Group[], taskId: string): string {
  let id = taskId;
  for (const group of chain) if (group.prefix) id = `${group.name}.${id}`;
  return id;
}

interface TaskEntry {
  id: string;
  conf: YamlNode;
  /** The node naming the task (the mapping key or the `task_id` value), for its line. */
  nameNode: YamlNode;
}

/** A DAG's tasks in either form (dagfactory/dagbuilder.py `_normalise_tasks_config`). */
function tasksOf(document: Document, dag: YamlNode): TaskEntry[] | null {
  const tasks = deref(document, lookup(document, dag, "tasks"));
  if (isSeq(tasks)) {
    return listItems(document, tasks).flatMap((item) => {
      const nameNode = lookup(document, item, "task_id");
      const id = scalarText(document, nameNode);
      return id === null ? [] : [{ id, conf: item, nameNode }];
    });
  }
  if (isMap(tasks)) {
    return tasks.items.flatMap((pair) => {
      // A `<<` merge key (read as a symbol) names no task.
      const id = isScalar(pair.key) && typeof pair.key.value !== "symbol" ? String(pair.key.value) : null;
      return id === null ? [] : [{ id, conf: pair.value, nameNode: pair.key }];
    });
  }
  return null;
}

/** One declaration pattern's scalars below a task argument: each scalar's layers and what its key means. */
interface Declaration {
  pattern: Pattern;
  scalars: Array<{ layers: Layer[]; meaning: KeyMeaning }>;
}

function requirementScalars(layers: Layer[]): Array<{ layers: Layer[]; meaning: KeyMeaning }> {
  const scalars: Array<{ layers: Layer[]; meaning: KeyMeaning }> = [];
  for (const [group, kind] of Object.entries(resourceRequirementKinds)) {
    const groupLayers = layeredChild(layers, group);
    for (const [key, { resource, unit }] of Object.entries(resourceRequirementKeys)) {
      scalars.push({ layers: layeredChild(groupLayers, key), meaning: { resource, kind, unit } });
    }
  }
  return scalars;
}

function keyScalars(
  layers: Layer[],
  keys: Record<string, KeyMeaning>,
): Array<{ layers: Layer[]; meaning: KeyMeaning }> {
  return Object.entries(keys).map(([key, meaning]) => ({ layers: layeredChild(layers, key), meaning }));
}

/**
 * The declarations one task argument holds. A pod_override's containers are a list, which is never
 * merged: the container named `base` (the one Airflow's KubernetesExecutor runs the task in), else the
 * first.
 */
function declarationsOf(keyword: string, layers: Layer[]): Declaration[] {
  switch (keyword) {
    case "resources":
      return [{ pattern: "dag_factory_resources", scalars: keyScalars(layers, airflowResourcesKeys) }];
    case "container_resources":
      return [{ pattern: "dag_factory_container_resources", scalars: requirementScalars(layers) }];
    case "executor_config": {
      const pod = layeredChild(layers, "pod_override");
      const spec = layeredChild(pod, "spec");
      const list = layeredChild(spec, "containers")[0];
      const containers = list
        ? listItems(list.source.document, list.node).map((node) => ({ source: list.source, node }))
        : [];
      const base =
        containers.find(
          ({ source, node }) => scalarText(source.document, lookup(source.document, node, "name")) === "base",
        ) ?? containers[0];
      const declarations: Declaration[] = [
        {
          pattern: "dag_factory_kubernetes_executor",
          scalars: keyScalars(layeredChild(layers, "KubernetesExecutor"), legacyKubernetesExecutorKeys),
        },
      ];
      if (base !== undefined) {
        declarations.push({
          pattern: "dag_factory_pod_override",
          scalars: requirementScalars(layeredChild([base], "resources")),
        });
      }
      return declarations;
    }
    default:
      return [];
  }
}

/** The task arguments a request can be declared in. */
const requestKeywords = ["resources", "executor_config", "container_resources"] as const;

/**
 * Where a per-task override goes in a task's block mapping: a new key after the line of its first
 * one-line scalar value (`operator: …`, `task_id: …`), at that key's indentation, and the value ranges of
 * the request arguments the task writes itself (an override replaces those). None for a task written as
 * a flow mapping (`{operator: …}`): its shared values are then sized for every task sharing them.
 */
function overridePlace(
  document: Document,
  text: string,
  lineCounter: LineCounter,
  conf: YamlNode,
): Pick<TaskSite, "insertAt" | "keywords" | "yamlIndent"> {
  const task = deref(document, conf);
  const keywords: TaskSite["keywords"] = {};
  if (!isMap(task) || task.flow) return { insertAt: 0, keywords };
  for (const pair of task.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : null;
    const range = (pair.value as { range?: [number, number, number] } | null)?.range;
    if (!range || !requestKeywords.includes(key as (typeof requestKeywords)[number])) continue;
    // A block collection's range runs to the next line; the override replaces only the value itself.
    keywords[key as TaskKeyword] = {
      start: range[0],
      end: range[0] + text.slice(range[0], range[1]).trimEnd().length,
    };
  }
  const anchor = task.items.find(
    (pair) =>
      isScalar(pair.key) &&
      isScalar(pair.value) &&
      pair.value.range &&
      (pair.value.type === Scalar.PLAIN ||
        pair.value.type === Scalar.QUOTE_DOUBLE ||
        pair.value.type === Scalar.QUOTE_SINGLE) &&
      !text.slice(pair.value.range[0], pair.value.range[1]).includes("\n"),
  );
  if (!anchor) return { insertAt: 0, keywords };
  const valueEnd = (anchor.value as Scalar).range![1];
  const lineEnd = text.indexOf("\n", valueEnd);
  const end = lineEnd === -1 ? text.length : text[lineEnd - 1] === "\r" ? lineEnd - 1 : lineEnd;
  const column = lineCounter.linePos((anchor.key as Scalar).range![0]).col;
  return { insertAt: end, keywords, yamlIndent: " ".repeat(column - 1) };
}

/**
 * Scans one YAML file as a dag-factory definition. Returns null when the file is not one (no top-level
 * mapping of DAGs with `tasks`); a file that looks like one but is not valid YAML is reported with the
 * line of the first error.
 */
export function scanDagFactoryYaml(
  file: string,
  text: string,
  defaults: readonly YamlSource[] = [],
): ScanResult | null {
  if (!looksLikeDagFactory(text)) return null;
  // PyYAML's FullLoader (dagfactory/_yaml.py) reads YAML 1.1 merge keys, as parseYamlFile does.
  const parsed = parseYamlFile(file, text);
  const result = emptyScanResult();
  if ("message" in parsed) {
    result.files.push(file);
    result.problems.push(parsed);
    return result;
  }
  const { document, lineCounter } = parsed;
  const own: YamlSource = { file, text, document, lineCounter };
  const at = (node: YamlNode): Layer[] => (node === undefined ? [] : [{ source: own, node }]);
  const root = document.contents;
  if (!isMap(root)) return null;
  const dags = entries(document, root).filter(
    ([key, value]) => !systemKeys.has(key) && isMap(value) && tasksOf(document, value) !== null,
  );
  if (dags.length === 0) return null;
  result.files.push(file);

  const fileDefaults = lookup(document, lookup(document, root, "default"), "default_args");
  /**
   * A keyword's default below the DAG's own default_args: the file's `default.default_args` keyword,
   * else the nearest defaults.yml's — each whole, merged key by key (`_merge_default_args_from_list_configs`).
   */
  const sharedDefault = (keyword: string): Layer[] => {
    const fromFile = lookup(document, fileDefaults, keyword);
    if (fromFile !== undefined) return at(fromFile);
    for (const source of defaults) {
      const node = lookup(
        source.document,
        lookup(source.document, source.document.contents, "default_args"),
        keyword,
      );
      if (node !== undefined) return [{ source, node }];
    }
    return [];
  };
  const findings = new Map<string, Finding>();
  for (const [dagId, dag] of dags) {
    const groups = taskGroups(document, dag);
    const dagDefaultArgs = lookup(document, dag, "default_args");
    for (const task of tasksOf(document, dag)!) {
      const chain = groupChain(groups, scalarText(document, lookup(document, task.conf, "task_group_name")));
      const taskId = taskIdIn(chain, task.id);
      const nameRange = (deref(document, task.nameNode) as { range?: [number, number, number] }).range;
      // The task's own argument replaces default_args' whole (Airflow merges keyword by keyword); among
      // the defaults the innermost group wins, then the DAG's, merged over the shared default.
      const argumentLayers = (keyword: string): Layer[] => {
        const own = lookup(document, task.conf, keyword);
        if (own !== undefined) return at(own);
        const fromGroup = chain
          .map((group) => lookup(document, group.defaultArgs, keyword))
          .find((node) => node !== undefined);
        if (fromGroup !== undefined) return at(fromGroup);
        return [...at(lookup(document, dagDefaultArgs, keyword)), ...sharedDefault(keyword)];
      };
      const queue = argumentLayers("queue")[0];
      result.tasks.push({
        orchestrator: "airflow",
        pipeline: dagId,
        task: taskId,
        file,
        line: lineCounter.linePos(nameRange?.[0] ?? 0).line,
        bare: false,
        indent: null,
        k8sModule: "k8s",
        ...overridePlace(document, text, lineCounter, task.conf),
        // `queue` picks the executor under CeleryKubernetesExecutor (sources/effective.ts); a `$VAR` is
        // expanded by dag-factory at load, so it is not known here.
        ...(queue ? { queue: queueName(queue) } : {}),
      });
      for (const keyword of requestKeywords) {
        const layers = argumentLayers(keyword);
        if (layers.length === 0) continue;
        const via = lookup(document, task.conf, keyword) !== undefined ? "task" : "default_args";
        for (const declaration of declarationsOf(keyword, layers)) {
          for (const { layers: valueLayers, meaning } of declaration.scalars) {
            const source = valueLayers[0]?.source;
            const scalar = source ? deref(source.document, valueLayers[0]!.node) : undefined;
            if (!source || !isScalar(scalar) || !scalar.range || scalar.value === null) continue;
            const key = `${source.file}:${scalar.range[0]}/${meaning.resource}/${meaning.kind}/${dagId}`;
            const existing = findings.get(key);
            if (existing) {
              if (!existing.tasks.includes(taskId)) existing.tasks.push(taskId);
              continue;
            }
            findings.set(
              key,
              scalarFinding(source.file, source.text, scalar, source.lineCounter, () => meaning.unit, {
                resource: meaning.resource,
                kind: meaning.kind,
                pattern: declaration.pattern,
                orchestrator: "airflow",
                pipeline: dagId,
                tasks: [taskId],
                via,
              }),
            );
          }
        }
      }
    }
  }
  for (const finding of findings.values()) finding.tasks.sort();
  result.findings.push(...findings.values());
  return result;
}
