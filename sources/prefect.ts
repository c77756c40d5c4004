/**
 * Prefect deployments, both ways they are written: prefect.yaml (each deployment's
 * `work_pool.job_variables`, anchors, aliases and `<<` merges followed; the `yaml` package's node ranges
 * let a patch replace exactly the scalar, keeping comments and quotes) and `flow.deploy(name=…,
 * job_variables={…})` calls in Python. Pure functions of a file's text (and, for Python, its tree).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, type Scalar } from "yaml";
import { parseYamlFile } from "./yaml-scalars.js";
import { type PrefectNames, prefectLimitVariables, prefectVariableResource } from "./declaration-patterns.js";
import { posix } from "node:path";
import type { Node } from "web-tree-sitter";
import type { DeployedFrom, Finding, FlowDefinition, Resource, ScanResult, TaskSite } from "./findings.js";
import { emptyScanResult } from "./findings.js";
import type { PythonModule } from "./python-module.js";
import {
  calleeName,
  decoratorExpressions,
  keywordArguments,
  positionalArguments,
  stringValue,
} from "./python-syntax.js";
import type { Literal, QuantityUnit } from "./quantities.js";
import { deref, entries, lookup, scalarFinding, type YamlNode } from "./yaml-values.js";

/** The smallest task-level CPU ECS accepts (EC2 launch type; Fargate starts at 256). */
const ecsMinimumCpuUnits = 128;

/**
 * Prefect job variables: numbers (and strings of digits) are ECS units — CPU units and MiB — except CPU
 * values below 128, which no ECS task can have (the ECS developer guide's task CPU minimum is 128 units)
 * and so are cores, as a custom Kubernetes template writes them. Other strings are Kubernetes
 * quantities (Cloud Run and Kubernetes work pools: "1000m", "512Mi").
 */
export function prefectUnit(resource: Resource, literal: Literal | null): QuantityUnit {
  const numeric =
    literal !== null && (literal.kind === "number" || /^\d+(\.\d+)?$/.test(literal.text.trim()));
  const ecs = literal === null || numeric;
  if (resource === "cpu") {
    if (numeric && Number(literal!.text.trim().replace(/_/g, "")) < ecsMinimumCpuUnits) return "k8s-cpu";
    return ecs ? "ecs-cpu-units" : "k8s-cpu";
  }
  return ecs ? "MiB" : "k8s-memory";
}

/**
 * The name Prefect gives a flow: `@flow(name=…)`, else the function's name with underscores replaced by
 * hyphens (PrefectHQ/prefect src/prefect/flows.py, `Flow.__init__`: `name or
 * fn.__name__.replace("_", "-")`, at ce79dd3).
 */
export function flowNameOf(functionName: string, explicit: string | null): string {
  return explicit ?? functionName.replace(/_/g, "-");
}

/**
 * The task key's pipeline of a deployment: `FLOW/DEPLOYMENT`, as Prefect names a deployment
 * (`prefect deployment run FLOW/DEPLOYMENT`, src/prefect/cli/deployment.py at ce79dd3: "A deployed
 * flow's name: <FLOW_NAME>/<DEPLOYMENT_NAME>"); docs/architecture.md "Task key".
 */
export function deploymentPipeline(flow: string, deployment: string): string {
  return `${flow}/${deployment}`;
}

/** `@flow`, `@flow(…)`, `@prefect.flow(…)` functions of a Python file, with their flow names. */
export function collectFlows(module: PythonModule): void {
  module.visit(false, (node) => {
    if (node.type !== "decorated_definition") return;
    const definition = node.childForFieldName("definition");
    const functionName = definition?.childForFieldName("name")?.text;
    if (!functionName) return;
    for (const expression of decoratorExpressions(node)) {
      const name = expression.type === "call" ? calleeName(expression) : expression.text;
      if (name !== "flow" && name !== "prefect.flow") continue;
      const explicit =
        expression.type === "call"
          ? (stringValue(keywordArguments(expression).get("name")) ??
            stringValue(positionalArguments(expression).find((argument) => argument.type === "string")))
          : null;
      module.result.flows.push({
        file: module.file,
        line: node.startPosition.row + 1,
        function: functionName,
        name: flowNameOf(functionName, explicit),
      });
    }
  });
}

/**
 * The flow an entrypoint (`path/to/file.py:function`, relative to `base`) names: the flow defined there
 * when the file was scanned, else the function's name as Prefect derives it (the file may be outside the
 * repository, or generated).
 */
export function flowOfEntrypoint(entrypoint: string, base: string, flows: FlowDefinition[]): string | null {
  const colon = entrypoint.lastIndexOf(":");
  if (colon <= 0) return null;
  const path = normalize(posix.join(base, entrypoint.slice(0, colon).replace(/\\/g, "/")));
  const functionName = entrypoint.slice(colon + 1).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(functionName)) return null;
  const defined = flows.find((flow) => flow.file === path && flow.function === functionName);
  return defined?.name ?? flowNameOf(functionName, null);
}

function normalize(path: string): string {
  return posix.normalize(path).replace(/^\.\//, "");
}

/**
 * Python: `my_flow.deploy(name="…", job_variables={…})` or `flow.from_source(…, entrypoint="f.py:fn")
 * .deploy(…)`. The pipeline is `FLOW/DEPLOYMENT`; a flow that cannot be told is reported and the
 * deployment skipped (its key would match nothing the collector records).
 */
export function scanDeployCalls(
  module: PythonModule,
  names: PrefectNames,
  knownFlows: FlowDefinition[] = [],
): void {
  module.visit(true, (node) => {
    if (node.type !== "call" || calleeName(node) !== "deploy") return;
    const fn = node.childForFieldName("function");
    if (fn?.type !== "attribute") return;
    const keywords = keywordArguments(node);
    const name = stringValue(keywords.get("name")) ?? stringValue(positionalArguments(node)[0]);
    if (name === null) return;
    const object = fn.childForFieldName("object");
    const flow = deployedFlow(module, object, knownFlows);
    const entrypoint =
      object?.type === "call" && calleeName(object) === "from_source"
        ? stringValue(keywordArguments(object).get("entrypoint"))
        : null;
    const deployedFrom = entrypoint ? { entrypoint, deployment: name } : undefined;
    if (flow === null) {
      module.result.problems.push({
        file: module.file,
        line: node.startPosition.row + 1,
        message: `deployment "${name}": its flow cannot be told from the source (a flow variable or from_source(entrypoint=…) is expected); not scanned`,
      });
      return;
    }
    const pipeline = deploymentPipeline(flow, name);
    const variables = module.resolve(keywords.get("job_variables")).node;
    const poolName = stringValue(keywords.get("work_pool_name"));
    module.result.tasks.push({
      ...module.site(pipeline, "__flow__", node, keywords, node.childForFieldName("arguments")!, false),
      orchestrator: "prefect",
      ...(deployedFrom ? { deployedFrom } : {}),
      ...(poolName
        ? { workPool: { name: poolName, variables: module.entries(variables).map(([key]) => key) } }
        : {}),
    });
    for (const [key, value] of module.entries(variables)) {
      const request = prefectVariableResource(names, key);
      const resource = request ?? prefectLimitVariables[key];
      if (!resource) continue;
      const literal = module.literalOf(module.resolve(value).node ?? value);
      module.record(
        {
          pattern: "prefect_deploy",
          resource,
          kind: request ? "request" : "limit",
          unit: prefectUnit(resource, literal),
          node: value,
        },
        "prefect",
        pipeline,
        "__flow__",
        "task",
        { ...(deployedFrom ? { deployedFrom } : {}), ...(request ? {} : { variable: key }) },
      );
    }
  });
}

/**
 * Deployments made with `from_source(entrypoint=…)` name a flow in a file that may be scanned after the
 * deploying one: once every file is scanned, their keys are settled against all the flows found.
 */
export function settleDeployedFlows(result: ScanResult): void {
  const settle = (item: { pipeline: string; deployedFrom?: DeployedFrom }) => {
    if (!item.deployedFrom) return;
    const flow = flowOfEntrypoint(item.deployedFrom.entrypoint, "", result.flows);
    if (flow) item.pipeline = deploymentPipeline(flow, item.deployedFrom.deployment);
  };
  result.tasks.forEach(settle);
  result.findings.forEach(settle);
}

/** The flow name behind `X.deploy`: a `@flow` function of this file, or `from_source(entrypoint=…)`. */
function deployedFlow(
  module: PythonModule,
  object: Node | null,
  knownFlows: FlowDefinition[],
): string | null {
  if (!object) return null;
  if (object.type === "identifier") {
    const defined = module.result.flows.find(
      (flow) => flow.file === module.file && flow.function === object.text,
    );
    if (defined) return defined.name;
    // `my_flow = some_flow.with_options(name="x")`: with_options' name, else the flow it copies.
    const assigned = module.resolve(object).node;
    if (assigned?.type === "call" && calleeName(assigned) === "with_options") {
      const renamed = stringValue(keywordArguments(assigned).get("name"));
      if (renamed) return renamed;
      return deployedFlow(
        module,
        assigned.childForFieldName("function")?.childForFieldName("object") ?? null,
        knownFlows,
      );
    }
    return null;
  }
  if (object.type === "call" && calleeName(object) === "from_source") {
    const entrypoint = stringValue(keywordArguments(object).get("entrypoint"));
    if (!entrypoint) return null;
    // Entrypoints are relative to the `source` folder, the repository root in the usual
    // `from_source(source=".", …)` or a git URL of this repository.
    return flowOfEntrypoint(entrypoint, "", [...knownFlows, ...module.result.flows]);
  }
  return null;
}

/** The value of a key written in this very mapping (no merges, aliases left unresolved). */
function ownValue(node: YamlNode, key: string): YamlNode {
  if (!isMap(node)) return undefined;
  const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
  return pair?.value;
}

/**
 * `work_pool: {…, job_variables: *anchor}` written in the deployment itself (not reached through a
 * shared work pool): the one shape where a per-deployment override can be written without touching
 * other deployments.
 */
function ownJobVariablesAlias(
  deployment: YamlNode,
): { start: number; end: number; anchor: string } | undefined {
  const workPool = ownValue(deployment, "work_pool");
  if (!isMap(workPool)) return undefined;
  const variables = ownValue(workPool, "job_variables");
  if (!isAlias(variables) || !variables.range) return undefined;
  return { start: variables.range[0], end: variables.range[1], anchor: variables.source };
}

function withPlace(place: TaskSite["jobVariablesPlace"]): Pick<TaskSite, "jobVariablesPlace"> {
  return place ? { jobVariablesPlace: place } : {};
}

/** The end of a node's text, without the line break and blank lines a block collection's range runs into. */
function contentEnd(text: string, node: { range?: [number, number, number] | null }): number {
  const [start, end] = node.range!;
  return start + text.slice(start, end).trimEnd().length;
}

/**
 * Where job variables of the deployment's own can be written in prefect.yaml (see
 * {@link TaskSite.jobVariablesPlace}): only in a `work_pool` (and `job_variables`) written in the
 * deployment itself, none of them anchored, so that no other deployment gets them.
 */
function jobVariablesPlace(
  text: string,
  lineCounter: LineCounter,
  deployment: YamlNode,
): TaskSite["jobVariablesPlace"] {
  if (!isMap(deployment) || deployment.anchor) return undefined;
  const workPool = ownValue(deployment, "work_pool");
  if (!isMap(workPool) || workPool.anchor || !workPool.range) return undefined;
  const variables = ownValue(workPool, "job_variables");
  const indentOf = (node: { range?: [number, number, number] | null }) =>
    " ".repeat(lineCounter.linePos(node.range![0]).col - 1);
  if (variables === undefined) {
    if (workPool.flow) return undefined;
    const first = workPool.items.find((pair) => isPair(pair) && isScalar(pair.key) && isScalar(pair.value));
    if (!first || !isScalar(first.value) || !first.value.range || !isScalar(first.key)) return undefined;
    const lineEnd = text.indexOf("\n", first.value.range[1]);
    const end = lineEnd === -1 ? text.length : text[lineEnd - 1] === "\r" ? lineEnd - 1 : lineEnd;
    return { at: end, form: "key", indent: indentOf(first.key), empty: true };
  }
  if (!isMap(variables) || variables.anchor || !variables.range) return undefined;
  if (variables.flow) {
    const close = text.lastIndexOf("}", contentEnd(text, variables));
    if (close === -1) return undefined;
    return { at: close, form: "flow", indent: "", empty: variables.items.length === 0 };
  }
  const first = variables.items[0];
  if (!first || !isScalar(first.key)) return undefined;
  return { at: contentEnd(text, variables), form: "item", indent: indentOf(first.key), empty: false };
}

/** Scans one prefect.yaml. A malformed file is reported with its line and skipped. */
export function scanPrefectYaml(
  file: string,
  text: string,
  names: PrefectNames,
  flows: FlowDefinition[] = [],
): ScanResult {
  const result = emptyScanResult();
  result.files.push(file);
  const parsed = parseYamlFile(file, text);
  if ("message" in parsed) {
    result.problems.push(parsed);
    return result;
  }
  const { document, lineCounter } = parsed;
  const deployments = deref(document, document.get("deployments", true));
  if (deployments === undefined || deployments === null) return result;
  if (!isSeq(deployments)) {
    const line = lineCounter.linePos((deployments as Scalar).range?.[0] ?? 0).line;
    result.problems.push({ file, line, message: "`deployments` is not a list; file skipped" });
    return result;
  }
  // One scalar may be shared through an anchor by several deployments; each deployment is its own
  // pipeline, so it becomes one finding per deployment at the same place and the patcher sees whether
  // they agree.
  const shared = new Map<number, { finding: Finding; pipelines: string[] }>();
  for (const item of deployments.items) {
    const deployment = deref(document, item);
    const nameNode = lookup(document, deployment, "name");
    if (!isScalar(nameNode) || typeof nameNode.value !== "string") continue;
    const deploymentName = nameNode.value;
    const line = lineCounter.linePos(nameNode.range?.[0] ?? 0).line;
    // The flow comes from the deployment's entrypoint, relative to the folder prefect.yaml sits in
    // (`prefect deploy` runs there and loads the flow with load_flow_from_entrypoint:
    // src/prefect/cli/deploy/_core.py at ce79dd3).
    const entrypoint = lookup(document, deployment, "entrypoint");
    const flow =
      isScalar(entrypoint) && typeof entrypoint.value === "string"
        ? flowOfEntrypoint(entrypoint.value, posix.dirname(file), flows)
        : null;
    if (flow === null) {
      result.problems.push({
        file,
        line,
        message: `deployment "${deploymentName}" has no entrypoint of the form path/to/file.py:function; not scanned`,
      });
      continue;
    }
    const name = deploymentPipeline(flow, deploymentName);
    const alias = ownJobVariablesAlias(deployment);
    const workPool = lookup(document, deployment, "work_pool");
    const variables = lookup(document, workPool, "job_variables");
    const poolName = lookup(document, workPool, "name");
    result.tasks.push({
      orchestrator: "prefect",
      pipeline: name,
      task: "__flow__",
      file,
      line,
      insertAt: nameNode.range?.[1] ?? 0,
      bare: false,
      indent: null,
      keywords: {},
      k8sModule: "k8s",
      ...(alias ? { jobVariablesAlias: alias } : {}),
      ...withPlace(jobVariablesPlace(text, lineCounter, deployment)),
      ...(isScalar(poolName) && typeof poolName.value === "string"
        ? { workPool: { name: poolName.value, variables: entries(document, variables).map(([key]) => key) } }
        : {}),
    });
    for (const [key, value] of entries(document, variables)) {
      const request = prefectVariableResource(names, key);
      const resource = request ?? prefectLimitVariables[key];
      if (!resource || !isScalar(value) || !value.range) continue;
      const existing = shared.get(value.range[0]);
      if (existing) {
        if (!existing.pipelines.includes(name)) existing.pipelines.push(name);
        continue;
      }
      const finding = scalarFinding(
        file,
        text,
        value,
        lineCounter,
        (literal) => prefectUnit(resource, literal),
        {
          resource,
          kind: request ? "request" : "limit",
          pattern: "prefect_yaml",
          orchestrator: "prefect",
          pipeline: name,
          tasks: ["__flow__"],
          via: "task",
          variable: key,
        },
      );
      shared.set(value.range[0], { finding, pipelines: [name] });
    }
  }
  for (const { finding, pipelines } of shared.values()) {
    for (const pipeline of pipelines) {
      result.findings.push({ ...finding, pipeline, via: pipelines.length > 1 ? "variable" : "task" });
    }
  }
  return result;
}
