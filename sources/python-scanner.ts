/**
 * Finds declared resource requests in Airflow DAG files (and Prefect `.deploy(job_variables=…)` calls)
 * through tree-sitter-python's syntax tree: never regular expressions for structure. The scan of one
 * file is a pure function of its text; the parser is loaded once from the WASM grammar.
 */
import { createRequire } from "node:module";
import { Language, type Node, Parser } from "web-tree-sitter";
import type {
  Finding,
  Pattern,
  RequestKind,
  Resource,
  ScanResult,
  TaskKeyword,
  TaskSite,
} from "./findings.js";
import { emptyScanResult } from "./findings.js";
import { type Literal, parseDeclared, type QuantityUnit } from "./quantities.js";

let parserPromise: Promise<Parser> | undefined;

/**
 * How many module-level names are followed from one use (`POD = BASE`, `BASE = k8s.V1Pod(…)`): real DAG
 * files chain two or three; the bound stops `A = B; B = A` from looping.
 */
const maxNameDepth = 5;

/** The smallest task-level CPU ECS accepts (EC2 launch type; Fargate starts at 256). */
const ecsMinimumCpuUnits = 128;

/** The tree-sitter parser with the Python grammar, loaded once per process. */
export function pythonParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-python/tree-sitter-python.wasm"));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

/** The first ERROR or MISSING node of a tree, for "file:line: syntax error". */
export function firstSyntaxError(root: Node): Node | null {
  if (!root.hasError) return null;
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.shift()!;
    if (node.isError || node.isMissing) return node;
    for (const child of node.children) if (child?.hasError || child?.isMissing) stack.push(child);
  }
  return root;
}

export interface PrefectNames {
  cpuVariables: string[];
  memoryVariables: string[];
}

interface Declaration {
  keyword: TaskKeyword | "job_variables";
  pattern: Pattern;
  resource: Resource;
  kind: RequestKind;
  unit: QuantityUnit;
  node: Node;
  /** True when the value came through a module-level name. */
  viaVariable: boolean;
}

interface DagScope {
  id: string;
  /** Node whose range holds the DAG's tasks (with-block or @dag function body); null for `x = DAG(…)`. */
  body: Node | null;
  variable: string | null;
  defaultArgs: Map<string, Node>;
}

/** Scans one Python file's text. `file` is the path reported in findings. */
export function scanPythonSource(
  parser: Parser,
  file: string,
  text: string,
  names: PrefectNames,
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
    new FileScanner(file, text, root, names, result).scan();
    return result;
  } finally {
    tree.delete();
  }
}

/** The last segment of a called name: `DAG`, `models.DAG` → `DAG`. */
function calleeName(call: Node): string | null {
  const fn = call.childForFieldName("function");
  if (!fn) return null;
  if (fn.type === "identifier") return fn.text;
  if (fn.type === "attribute") return fn.childForFieldName("attribute")?.text ?? null;
  return null;
}

function keywordArguments(call: Node): Map<string, Node> {
  const map = new Map<string, Node>();
  const args = call.childForFieldName("arguments");
  for (const child of args?.namedChildren ?? []) {
    if (child?.type !== "keyword_argument") continue;
    const name = child.childForFieldName("name")?.text;
    const value = child.childForFieldName("value");
    if (name && value) map.set(name, value);
  }
  return map;
}

function positionalArguments(call: Node): Node[] {
  const args = call.childForFieldName("arguments");
  return (args?.namedChildren ?? []).filter(
    (child): child is Node => child !== null && child.type !== "keyword_argument" && child.type !== "comment",
  );
}

/** The value of a plain string literal (no f-string, no concatenation), else null. */
function stringValue(node: Node | undefined | null): string | null {
  if (node?.type !== "string") return null;
  if (node.namedChildren.some((child) => child?.type === "interpolation")) return null;
  const start = node.namedChildren.find((child) => child?.type === "string_start")?.text ?? "";
  if (/[fF]/.test(start)) return null;
  return node.namedChildren
    .filter((child) => child?.type === "string_content")
    .map((child) => child!.text)
    .join("");
}

function descendantsOf(node: Node, visit: (node: Node) => boolean | undefined): void {
  const stack: Node[] = [node];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (visit(current) === false) continue;
    for (let index = current.namedChildCount - 1; index >= 0; index--) {
      const child = current.namedChild(index);
      if (child) stack.push(child);
    }
  }
}

interface IndexedNode {
  node: Node;
  inDecorator: boolean;
}

/** The node types the scanner looks at; everything else is walked past without materializing a Node. */
const indexedTypes = new Set(["assignment", "call", "with_statement", "decorated_definition"]);

/**
 * One pass over the tree with a cursor, keeping only the node types the scanner needs, in document
 * order. Materializing every node through web-tree-sitter's JS wrappers was most of the scan's time
 * (bench/requests.bench.ts).
 */
function indexTree(root: Node): IndexedNode[] {
  const nodes: IndexedNode[] = [];
  const cursor = root.walk();
  let decoratorDepth = 0;
  try {
    for (;;) {
      const type = cursor.nodeType;
      if (indexedTypes.has(type) && cursor.nodeIsNamed)
        nodes.push({ node: cursor.currentNode, inDecorator: decoratorDepth > 0 });
      if (type === "decorator") decoratorDepth++;
      if (cursor.gotoFirstChild()) continue;
      // Leave nodes upwards until one has a next sibling.
      for (;;) {
        if (cursor.nodeType === "decorator") decoratorDepth--;
        if (cursor.gotoNextSibling()) break;
        if (!cursor.gotoParent()) return nodes;
      }
    }
  } finally {
    cursor.delete();
  }
}

/** The items of this `with` statement only (not of `with` statements nested in its body). */
function withItems(statement: Node): Node[] {
  const clause = statement.namedChildren.find((child) => child?.type === "with_clause");
  return (clause?.namedChildren ?? []).filter((child): child is Node => child?.type === "with_item");
}

function within(node: Node, scope: Node): boolean {
  return node.startIndex >= scope.startIndex && node.endIndex <= scope.endIndex;
}

class FileScanner {
  private readonly variables = new Map<string, Node>();
  private readonly dags: DagScope[] = [];
  /** `with TaskGroup("g"):` blocks and `@task_group` function bodies: their ids prefix task ids. */
  private readonly groups: Array<{ id: string; body: Node }> = [];
  private readonly findings = new Map<string, Finding>();
  private k8sModule = "k8s";
  private index: IndexedNode[] = [];

  /** Calls `visit` on every indexed node in document order, optionally skipping those inside decorators. */
  private visit(skipDecorated: boolean, visit: (node: Node) => unknown): void {
    for (const entry of this.index) if (!(skipDecorated && entry.inDecorator)) visit(entry.node);
  }

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly root: Node,
    private readonly names: PrefectNames,
    private readonly result: ScanResult,
  ) {}

  scan(): void {
    this.index = indexTree(this.root);
    this.collectModule();
    this.collectDags();
    this.collectTaskGroups();
    this.collectTasks();
    this.collectDeployCalls();
    this.result.findings.push(
      ...[...this.findings.values()].map((finding) => ({ ...finding, tasks: finding.tasks.sort() })),
    );
  }

  /** Module-level names (`POD = k8s.V1Pod(…)`) and the alias the K8s models are imported under. */
  private collectModule(): void {
    for (const statement of this.root.namedChildren) {
      if (statement?.type === "expression_statement") {
        const assignment = statement.namedChild(0);
        if (assignment?.type !== "assignment") continue;
        const left = assignment.childForFieldName("left");
        const right = assignment.childForFieldName("right");
        if (left?.type === "identifier" && right) this.variables.set(left.text, right);
      }
      if (statement?.type === "import_from_statement") {
        for (const alias of statement.namedChildren) {
          if (alias?.type === "aliased_import" && alias.childForFieldName("name")?.text === "models") {
            this.k8sModule = alias.childForFieldName("alias")?.text ?? this.k8sModule;
          }
        }
      }
    }
  }

  private resolve(node: Node | undefined | null, depth = 0): { node: Node | null; viaVariable: boolean } {
    if (!node) return { node: null, viaVariable: false };
    if (node.type === "identifier" && depth < maxNameDepth) {
      const value = this.variables.get(node.text);
      if (value) return { node: this.resolve(value, depth + 1).node, viaVariable: true };
    }
    return { node, viaVariable: depth > 0 };
  }

  private dagFromCall(call: Node, fallbackId: string | null): Omit<DagScope, "body" | "variable"> | null {
    const keywords = keywordArguments(call);
    const id = stringValue(keywords.get("dag_id")) ?? stringValue(positionalArguments(call)[0]) ?? fallbackId;
    if (id === null) return null;
    return { id, defaultArgs: this.defaultArgs(keywords.get("default_args")) };
  }

  /** `default_args={…}` / `dict(…)` / a module-level name: the keyword arguments every task inherits. */
  private defaultArgs(node: Node | undefined): Map<string, Node> {
    const map = new Map<string, Node>();
    const resolved = this.resolve(node).node;
    if (resolved?.type === "dictionary") {
      for (const pair of resolved.namedChildren) {
        if (pair?.type !== "pair") continue;
        const key = stringValue(pair.childForFieldName("key"));
        const value = pair.childForFieldName("value");
        if (key && value) map.set(key, value);
      }
    } else if (resolved?.type === "call" && calleeName(resolved) === "dict") {
      for (const [key, value] of keywordArguments(resolved)) map.set(key, value);
    }
    return map;
  }

  private collectDags(): void {
    this.visit(false, (node) => {
      if (node.type === "assignment") {
        const right = node.childForFieldName("right");
        const left = node.childForFieldName("left");
        if (right?.type === "call" && calleeName(right) === "DAG") {
          const dag = this.dagFromCall(right, null);
          if (dag)
            this.dags.push({ ...dag, body: null, variable: left?.type === "identifier" ? left.text : null });
        }
      }
      if (node.type === "with_statement") {
        for (const item of withItems(node)) {
          let value = item?.childForFieldName("value") ?? null;
          let variable: string | null = null;
          if (value?.type === "as_pattern") {
            variable = value.childForFieldName("alias")?.text ?? null;
            value = value.namedChild(0);
          }
          if (value?.type === "call" && calleeName(value) === "DAG") {
            const dag = this.dagFromCall(value, null);
            if (dag) this.dags.push({ ...dag, body: node.childForFieldName("body"), variable });
          }
        }
      }
      if (node.type === "decorated_definition") {
        const definition = node.childForFieldName("definition");
        for (const decorator of node.namedChildren.filter((child) => child?.type === "decorator")) {
          const expression = decorator!.namedChild(0);
          const name = expression?.type === "call" ? calleeName(expression) : expression?.text;
          if (name !== "dag" && !name?.endsWith(".dag")) continue;
          const functionName = definition?.childForFieldName("name")?.text ?? null;
          const dag =
            expression?.type === "call"
              ? this.dagFromCall(expression, functionName)
              : functionName
                ? { id: functionName, defaultArgs: new Map<string, Node>() }
                : null;
          if (dag)
            this.dags.push({ ...dag, body: definition?.childForFieldName("body") ?? null, variable: null });
        }
      }
      return true;
    });
  }

  private collectTaskGroups(): void {
    // prefix_group_id=False keeps task ids unprefixed (Airflow's TaskGroup argument).
    const prefixes = (keywords: Map<string, Node>) => keywords.get("prefix_group_id")?.text !== "False";
    this.visit(false, (node) => {
      if (node.type === "with_statement") {
        for (const item of withItems(node)) {
          let value = item?.childForFieldName("value") ?? null;
          if (value?.type === "as_pattern") value = value.namedChild(0);
          if (value?.type !== "call" || calleeName(value) !== "TaskGroup") continue;
          const keywords = keywordArguments(value);
          const id = stringValue(keywords.get("group_id")) ?? stringValue(positionalArguments(value)[0]);
          const body = node.childForFieldName("body");
          if (id && body && prefixes(keywords)) this.groups.push({ id, body });
        }
      }
      if (node.type === "decorated_definition") {
        const definition = node.childForFieldName("definition");
        for (const decorator of node.namedChildren.filter((child) => child?.type === "decorator")) {
          const expression = decorator!.namedChild(0);
          const name = expression?.type === "call" ? calleeName(expression) : expression?.text;
          if (name !== "task_group" && !name?.endsWith(".task_group")) continue;
          const keywords =
            expression?.type === "call" ? keywordArguments(expression) : new Map<string, Node>();
          const id =
            stringValue(keywords.get("group_id")) ??
            (expression?.type === "call" ? stringValue(positionalArguments(expression)[0]) : null) ??
            definition?.childForFieldName("name")?.text;
          const body = definition?.childForFieldName("body");
          if (id && body && prefixes(keywords)) this.groups.push({ id, body });
        }
      }
      return true;
    });
  }

  /** `outer.inner.` for a task inside task groups (Airflow's default prefix_group_id=True), else "". */
  private groupPrefix(node: Node): string {
    return this.groups
      .filter((group) => within(node, group.body))
      .sort((a, b) => a.body.startIndex - b.body.startIndex)
      .map((group) => `${group.id}.`)
      .join("");
  }

  /** The DAG a task belongs to: the innermost enclosing `with DAG`/`@dag`, its `dag=` name, or the file's only DAG. */
  private dagOf(node: Node, keywords: Map<string, Node>): DagScope | null {
    const enclosing = this.dags
      .filter((dag) => dag.body !== null && within(node, dag.body))
      .sort((a, b) => a.body!.endIndex - a.body!.startIndex - (b.body!.endIndex - b.body!.startIndex))[0];
    if (enclosing) return enclosing;
    const dagName = keywords.get("dag");
    if (dagName?.type === "identifier") {
      const named = this.dags.find((dag) => dag.variable === dagName.text);
      if (named) return named;
    }
    return this.dags.length === 1 ? this.dags[0]! : null;
  }

  private collectTasks(): void {
    // Calls inside decorators are the decorators' own arguments (`@task(task_id=…)`), not operators.
    this.visit(true, (node) => {
      if (node.type === "decorated_definition") this.decoratedTask(node);
      if (node.type === "call") {
        const keywords = keywordArguments(node);
        const taskId = stringValue(keywords.get("task_id"));
        if (taskId !== null && calleeName(node) !== "DAG" && calleeName(node) !== "override") {
          const dag = this.dagOf(node, keywords);
          if (dag) {
            this.task(
              dag,
              this.groupPrefix(node) + taskId,
              node,
              keywords,
              node.childForFieldName("arguments")!,
              false,
            );
          }
        }
      }
      return true;
    });
  }

  private decoratedTask(node: Node): void {
    const definition = node.childForFieldName("definition");
    for (const decorator of node.namedChildren.filter((child) => child?.type === "decorator")) {
      const expression = decorator!.namedChild(0);
      if (!expression) continue;
      const target = expression.type === "call" ? expression.childForFieldName("function") : expression;
      const name = target?.text ?? "";
      // `@task`, `@task(...)`, `@task.kubernetes(...)`, `@task.virtualenv`: every TaskFlow decorator.
      if (name !== "task" && !name.startsWith("task.")) continue;
      const keywords = expression.type === "call" ? keywordArguments(expression) : new Map<string, Node>();
      const ownId = stringValue(keywords.get("task_id")) ?? definition?.childForFieldName("name")?.text;
      const dag = this.dagOf(node, keywords);
      if (!ownId || !dag) continue;
      const taskId = this.groupPrefix(node) + ownId;
      if (expression.type === "call") {
        this.task(dag, taskId, node, keywords, expression.childForFieldName("arguments")!, false);
      } else {
        this.task(dag, taskId, node, keywords, expression, true);
      }
    }
  }

  private task(
    dag: DagScope,
    taskId: string,
    node: Node,
    keywords: Map<string, Node>,
    argumentsNode: Node,
    bare: boolean,
  ): void {
    const own = this.declarationsOf(keywords);
    // default_args fill in keyword arguments the task doesn't pass itself (Airflow's BaseOperator merge).
    const inherited = this.declarationsOf(dag.defaultArgs).filter(
      (declaration) => !keywords.has(declaration.keyword),
    );
    const seen = new Set<string>();
    for (const [declaration, via] of [
      ...own.map((d) => [d, d.viaVariable ? "variable" : "task"] as const),
      ...inherited.map((d) => [d, "default_args"] as const),
    ]) {
      const key = `${declaration.resource}/${declaration.kind}`;
      // One value per resource and kind: the first declaration found wins (own before inherited).
      if (seen.has(key)) continue;
      seen.add(key);
      this.record(declaration, "airflow", dag.id, taskId, via);
    }
    this.result.tasks.push(this.site(dag.id, taskId, node, keywords, argumentsNode, bare));
  }

  private site(
    pipeline: string,
    task: string,
    node: Node,
    keywords: Map<string, Node>,
    argumentsNode: Node,
    bare: boolean,
  ): TaskSite {
    const sites: TaskSite["keywords"] = {};
    for (const keyword of ["resources", "executor_config", "container_resources"] as const) {
      const value = keywords.get(keyword);
      if (value) sites[keyword] = { start: value.startIndex, end: value.endIndex };
    }
    let insertAt = argumentsNode.endIndex;
    let indent: string | null = null;
    if (!bare) {
      const args = argumentsNode.namedChildren.filter((child) => child?.type !== "comment");
      const last = args.at(-1);
      insertAt = last ? last.endIndex : argumentsNode.startIndex + 1;
      if (last && argumentsNode.startPosition.row !== argumentsNode.endPosition.row) {
        const lineStart = this.text.lastIndexOf("\n", last.startIndex - 1) + 1;
        const before = this.text.slice(lineStart, last.startIndex);
        if (/^[ \t]*$/.test(before)) indent = before;
      }
    }
    return {
      orchestrator: "airflow",
      pipeline,
      task,
      file: this.file,
      line: node.startPosition.row + 1,
      insertAt,
      bare,
      indent,
      keywords: sites,
      k8sModule: this.k8sModule,
    };
  }

  /** The declarations found in a task's (or default_args') keyword arguments. */
  private declarationsOf(keywords: Map<string, Node>): Declaration[] {
    const found: Declaration[] = [];
    const add = (
      keyword: Declaration["keyword"],
      pattern: Pattern,
      resource: Resource,
      kind: RequestKind,
      unit: QuantityUnit,
      node: Node | null | undefined,
      viaVariable: boolean,
    ) => {
      if (node) found.push({ keyword, pattern, resource, kind, unit, node, viaVariable });
    };

    const resources = this.resolve(keywords.get("resources"));
    for (const [key, value] of this.entries(resources.node)) {
      const via = resources.viaVariable;
      if (key === "cpus") add("resources", "resources", "cpu", "request", "cores", value, via);
      if (key === "ram") add("resources", "resources", "memory", "request", "MB", value, via);
    }

    const executorConfig = this.resolve(keywords.get("executor_config"));
    for (const [key, value] of this.entries(executorConfig.node)) {
      if (key === "pod_override") {
        const pod = this.resolve(value);
        const requirements = this.findCall(pod.node, "V1ResourceRequirements");
        for (const requirement of this.requirements(requirements.node)) {
          add(
            "executor_config",
            "pod_override",
            requirement.resource,
            requirement.kind,
            requirement.unit,
            requirement.node,
            executorConfig.viaVariable || pod.viaVariable || requirements.viaVariable,
          );
        }
      }
      if (key === "KubernetesExecutor") {
        const legacy = this.resolve(value);
        const legacyKeys: Record<string, [Resource, RequestKind, QuantityUnit]> = {
          request_cpu: ["cpu", "request", "k8s-cpu"],
          limit_cpu: ["cpu", "limit", "k8s-cpu"],
          request_memory: ["memory", "request", "k8s-memory"],
          limit_memory: ["memory", "limit", "k8s-memory"],
        };
        for (const [legacyKey, legacyValue] of this.entries(legacy.node)) {
          const meaning = legacyKeys[legacyKey];
          if (meaning) {
            add(
              "executor_config",
              "kubernetes_executor",
              ...meaning,
              legacyValue,
              executorConfig.viaVariable || legacy.viaVariable,
            );
          }
        }
      }
    }

    const containerResources = this.resolve(keywords.get("container_resources"));
    if (containerResources.node?.type === "call") {
      for (const requirement of this.requirements(containerResources.node)) {
        add(
          "container_resources",
          "container_resources",
          requirement.resource,
          requirement.kind,
          requirement.unit,
          requirement.node,
          containerResources.viaVariable,
        );
      }
    }
    return found;
  }

  /** Key/value pairs of a dict literal (string keys) or of a call's keyword arguments (`Resources(cpus=…)`). */
  private entries(node: Node | null): Array<[string, Node]> {
    if (!node) return [];
    if (node.type === "dictionary") {
      const pairs: Array<[string, Node]> = [];
      for (const pair of node.namedChildren) {
        if (pair?.type !== "pair") continue;
        const key = stringValue(pair.childForFieldName("key"));
        const value = pair.childForFieldName("value");
        if (key !== null && value) pairs.push([key, value]);
      }
      return pairs;
    }
    if (node.type === "call") return [...keywordArguments(node)];
    return [];
  }

  /** The first call named `name` inside `node`, following module-level names. */
  private findCall(node: Node | null, name: string, depth = 0): { node: Node | null; viaVariable: boolean } {
    if (!node || depth > maxNameDepth) return { node: null, viaVariable: false };
    let found: { node: Node | null; viaVariable: boolean } = { node: null, viaVariable: false };
    descendantsOf(node, (current) => {
      if (found.node) return false;
      if (current.type === "call" && calleeName(current) === name) {
        found = { node: current, viaVariable: false };
        return false;
      }
      if (current.type === "identifier" && this.variables.has(current.text)) {
        const inner = this.findCall(this.variables.get(current.text)!, name, depth + 1);
        if (inner.node) found = { node: inner.node, viaVariable: true };
      }
      return true;
    });
    return found;
  }

  private requirements(
    call: Node | null,
  ): Array<{ resource: Resource; kind: RequestKind; unit: QuantityUnit; node: Node }> {
    if (!call) return [];
    const found: Array<{ resource: Resource; kind: RequestKind; unit: QuantityUnit; node: Node }> = [];
    const keywords = keywordArguments(call);
    for (const kind of ["request", "limit"] as const) {
      const mapping = this.resolve(keywords.get(`${kind}s`)).node;
      for (const [key, value] of this.entries(mapping)) {
        if (key === "cpu") found.push({ resource: "cpu", kind, unit: "k8s-cpu", node: value });
        if (key === "memory") found.push({ resource: "memory", kind, unit: "k8s-memory", node: value });
      }
    }
    return found;
  }

  /** Adds a task to the finding at the value's place (one finding per literal, shared by its tasks). */
  private record(
    declaration: Pick<Declaration, "pattern" | "resource" | "kind" | "unit" | "node">,
    orchestrator: "airflow" | "prefect",
    pipeline: string,
    task: string,
    via: Finding["via"],
  ): void {
    const resolved = this.resolve(declaration.node);
    const valueNode = resolved.node ?? declaration.node;
    const key = `${valueNode.startIndex}/${declaration.resource}/${declaration.kind}/${pipeline}`;
    const existing = this.findings.get(key);
    if (existing) {
      if (!existing.tasks.includes(task)) existing.tasks.push(task);
      return;
    }
    const literal = this.literalOf(valueNode);
    const unit = declaration.unit;
    const value = literal ? parseDeclared(unit, literal) : Number.NaN;
    const dynamic = literal === null || !Number.isFinite(value);
    const range =
      literal?.kind === "string"
        ? this.stringContentRange(valueNode)
        : { start: valueNode.startIndex, end: valueNode.endIndex };
    this.findings.set(key, {
      file: this.file,
      line: valueNode.startPosition.row + 1,
      column: valueNode.startPosition.column + 1,
      start: range.start,
      end: range.end,
      raw: valueNode.text,
      literal: dynamic ? null : literal,
      unit,
      value: dynamic ? null : value,
      dynamic,
      resource: declaration.resource,
      kind: declaration.kind,
      pattern: declaration.pattern,
      orchestrator,
      pipeline,
      tasks: [task],
      via: via === "task" && resolved.viaVariable ? "variable" : via,
    });
  }

  /** A number or a plain string; null for anything that needs evaluating (calls, f-strings, Jinja, names). */
  private literalOf(node: Node): Literal | null {
    if (node.type === "integer" || node.type === "float") return { kind: "number", text: node.text };
    const text = stringValue(node);
    if (text === null || text === "" || text.includes("{{")) return null;
    return { kind: "string", text };
  }

  private stringContentRange(node: Node): { start: number; end: number } {
    const content = node.namedChildren.find((child) => child?.type === "string_content")!;
    return { start: content.startIndex, end: content.endIndex };
  }

  /** Prefect: `flow.deploy(name="…", job_variables={…})`; the deployment name is the pipeline. */
  private collectDeployCalls(): void {
    this.visit(true, (node) => {
      if (node.type !== "call" || calleeName(node) !== "deploy") return true;
      const fn = node.childForFieldName("function");
      if (fn?.type !== "attribute") return true;
      const keywords = keywordArguments(node);
      const name = stringValue(keywords.get("name")) ?? stringValue(positionalArguments(node)[0]);
      if (name === null) return true;
      this.result.tasks.push({
        ...this.site(name, "__flow__", node, keywords, node.childForFieldName("arguments")!, false),
        orchestrator: "prefect",
      });
      const variables = this.resolve(keywords.get("job_variables")).node;
      for (const [key, value] of this.entries(variables)) {
        const resource = this.names.cpuVariables.includes(key)
          ? "cpu"
          : this.names.memoryVariables.includes(key)
            ? "memory"
            : null;
        if (!resource) continue;
        const literal = this.literalOf(this.resolve(value).node ?? value);
        this.record(
          {
            pattern: "prefect_deploy",
            resource,
            kind: "request",
            unit: prefectUnit(resource, literal),
            node: value,
          },
          "prefect",
          name,
          "__flow__",
          "task",
        );
      }
      return true;
    });
  }
}

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
