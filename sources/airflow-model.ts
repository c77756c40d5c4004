/**
 * The Airflow DAG model of one Python file: its DAGs (`DAG(…)`, `with DAG(…)`, `@dag`), task groups,
 * tasks (operators with `task_id=`, TaskFlow `@task…`), and the requests each task declares or inherits
 * through `default_args` (Airflow's BaseOperator merge), read through the declaration-pattern table.
 */
import { posix } from "node:path";
import type { Node } from "web-tree-sitter";
import {
  airflowResourcesKeys,
  legacyKubernetesExecutorKeys,
  resourceRequirementKeys,
  resourceRequirementKinds,
} from "./declaration-patterns.js";
import type { Pattern, RequestKind, Resource, TaskKeyword } from "./findings.js";
import type { PythonModule } from "./python-module.js";
import {
  calleeName,
  decoratorExpressions,
  keywordArguments,
  positionalArguments,
  stringValue,
  withItems,
  within,
} from "./python-syntax.js";
import type { QuantityUnit } from "./quantities.js";

interface Declaration {
  keyword: TaskKeyword;
  pattern: Pattern;
  resource: Resource;
  kind: RequestKind;
  unit: QuantityUnit;
  node: Node;
  viaVariable: boolean;
}

interface DagScope {
  id: string;
  /** Node whose range holds the DAG's tasks (with-block or @dag function body); null for `x = DAG(…)`. */
  body: Node | null;
  variable: string | null;
  defaultArgs: Map<string, Node>;
}

/** Finds the DAGs, task groups and tasks of `module` and records their declared requests. */
export function scanAirflowDags(module: PythonModule): void {
  new AirflowModel(module).scan();
}

class AirflowModel {
  private readonly dags: DagScope[] = [];
  /** `with TaskGroup("g"):` blocks and `@task_group` function bodies: their ids prefix task ids. */
  private readonly groups: Array<{ id: string; body: Node }> = [];

  constructor(private readonly module: PythonModule) {}

  scan(): void {
    this.collectDags();
    this.collectTaskGroups();
    this.collectTasks();
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
    const resolved = this.module.resolve(node).node;
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
    this.module.visit(false, (node) => {
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
        for (const expression of decoratorExpressions(node)) {
          const name = expression.type === "call" ? calleeName(expression) : expression.text;
          if (name !== "dag" && !name?.endsWith(".dag")) continue;
          const functionName = definition?.childForFieldName("name")?.text ?? null;
          const dag =
            expression.type === "call"
              ? this.dagFromCall(expression, functionName)
              : functionName
                ? { id: functionName, defaultArgs: new Map<string, Node>() }
                : null;
          if (dag)
            this.dags.push({ ...dag, body: definition?.childForFieldName("body") ?? null, variable: null });
        }
      }
    });
  }

  private collectTaskGroups(): void {
    // prefix_group_id=False keeps task ids unprefixed (Airflow's TaskGroup argument).
    const prefixes = (keywords: Map<string, Node>) => keywords.get("prefix_group_id")?.text !== "False";
    this.module.visit(false, (node) => {
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
        for (const expression of decoratorExpressions(node)) {
          const name = expression.type === "call" ? calleeName(expression) : expression.text;
          if (name !== "task_group" && !name?.endsWith(".task_group")) continue;
          const keywords =
            expression.type === "call" ? keywordArguments(expression) : new Map<string, Node>();
          const id =
            stringValue(keywords.get("group_id")) ??
            (expression.type === "call" ? stringValue(positionalArguments(expression)[0]) : null) ??
            definition?.childForFieldName("name")?.text;
          const body = definition?.childForFieldName("body");
          if (id && body && prefixes(keywords)) this.groups.push({ id, body });
        }
      }
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
    this.module.visit(true, (node) => {
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
    });
  }

  private decoratedTask(node: Node): void {
    const definition = node.childForFieldName("definition");
    for (const expression of decoratorExpressions(node)) {
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
      this.module.record(declaration, "airflow", dag.id, taskId, via);
    }
    const queue = keywords.get("queue") ?? dag.defaultArgs.get("queue");
    this.module.result.tasks.push({
      ...this.module.site(dag.id, taskId, node, keywords, argumentsNode, bare),
      ...(queue ? { queue: stringValue(this.module.resolve(queue).node) } : {}),
    });
    this.podTemplate(dag, taskId, keywords);
  }

  /**
   * `executor_config={"pod_template_file": …}` on the task, or in default_args when the task passes no
   * executor_config itself: recorded for pod-template.ts, which reads the file once every file is scanned.
   */
  private podTemplate(dag: DagScope, taskId: string, keywords: Map<string, Node>): void {
    const own = keywords.get("executor_config");
    const via = own ? "task" : "default_args";
    const config = this.module.resolve(own ?? dag.defaultArgs.get("executor_config")).node;
    const value = this.module.entries(config).find(([key]) => key === "pod_template_file")?.[1];
    if (!value) return;
    const line = value.startPosition.row + 1;
    const path = this.templatePath(this.module.resolve(value).node);
    if (!path) {
      this.module.result.problems.push({
        file: this.module.file,
        line,
        message: `pod_template_file of ${dag.id}/${taskId} is computed (${value.text.replace(/\s+/g, " ").slice(0, 80)}); its template is not read`,
      });
      return;
    }
    this.module.result.podTemplates.push({
      file: this.module.file,
      line,
      ...path,
      task: { pipeline: dag.id, task: taskId, via },
    });
  }

  /**
   * A string, or a path built from strings, module constants and the DAG file's own place: the path, or
   * only its end when it is joined onto a name (`os.path.join(AIRFLOW_HOME, "pod_templates/x.yaml")`).
   * `__file__` is the DAG file's path in the repository, so `os.path.join(os.path.dirname(__file__),
   * "pod_templates", "x.yaml")` and `Path(__file__).parent / "pod_templates" / "x.yaml"` name the file
   * beside the DAG whatever folder the repository is deployed to.
   */
  private templatePath(node: Node | null, depth = 0): { path: string; tail: boolean } | null {
    // Deep enough for any path a person writes; bounds a hostile file's nesting.
    if (!node || depth > 16) return null;
    const next = (child: Node | null | undefined) =>
      this.templatePath(child ? this.module.resolve(child).node : null, depth + 1);
    const text = stringValue(node);
    if (text !== null) return text === "" || text.includes("{{") ? null : { path: text, tail: false };
    if (node.type === "identifier" && node.text === "__file__")
      return { path: this.module.file, tail: false };
    if (node.type === "parenthesized_expression") return next(node.namedChildren[0]);
    // `Path(__file__).parent`: the folder.
    if (node.type === "attribute" && node.childForFieldName("attribute")?.text === "parent") {
      return parentOf(next(node.childForFieldName("object")));
    }
    // `base / "pod_templates" / "x.yaml"` on a pathlib.Path.
    if (node.type === "binary_operator" && node.childForFieldName("operator")?.text === "/") {
      return joinPaths([next(node.childForFieldName("left")), next(node.childForFieldName("right"))]);
    }
    if (node.type !== "call") return null;
    const name = calleeName(node);
    const args = positionalArguments(node);
    // `x.resolve()` / `x.absolute()` on a Path: the same file.
    const fn = node.childForFieldName("function");
    if ((name === "resolve" || name === "absolute") && args.length === 0 && fn?.type === "attribute") {
      return next(fn.childForFieldName("object"));
    }
    if (
      args.length === 1 &&
      (name === "dirname" ||
        name === "abspath" ||
        name === "realpath" ||
        name === "str" ||
        name === "Path" ||
        name === "fspath")
    ) {
      const inner = next(args[0]);
      return name === "dirname" ? parentOf(inner) : inner;
    }
    if (name === "join" || name === "Path" || name === "joinpath") {
      const parts = args.map((argument) => next(argument));
      if (name === "joinpath" && fn?.type === "attribute")
        parts.unshift(next(fn.childForFieldName("object")));
      return joinPaths(parts);
    }
    return null;
  }

  /** The declarations found in a task's (or default_args') keyword arguments. */
  private declarationsOf(keywords: Map<string, Node>): Declaration[] {
    const found: Declaration[] = [];
    const module = this.module;

    const resources = module.resolve(keywords.get("resources"));
    for (const [key, value] of module.entries(resources.node)) {
      const meaning = airflowResourcesKeys[key];
      if (meaning) {
        found.push({
          keyword: "resources",
          pattern: "resources",
          ...meaning,
          node: value,
          viaVariable: resources.viaVariable,
        });
      }
    }

    const executorConfig = module.resolve(keywords.get("executor_config"));
    for (const [key, value] of module.entries(executorConfig.node)) {
      if (key === "pod_override") {
        const pod = module.resolve(value);
        const requirements = module.findCall(pod.node, "V1ResourceRequirements");
        for (const requirement of this.requirements(requirements.node)) {
          found.push({
            keyword: "executor_config",
            pattern: "pod_override",
            ...requirement,
            viaVariable: executorConfig.viaVariable || pod.viaVariable || requirements.viaVariable,
          });
        }
      }
      if (key === "KubernetesExecutor") {
        const legacy = module.resolve(value);
        for (const [legacyKey, legacyValue] of module.entries(legacy.node)) {
          const meaning = legacyKubernetesExecutorKeys[legacyKey];
          if (meaning) {
            found.push({
              keyword: "executor_config",
              pattern: "kubernetes_executor",
              ...meaning,
              node: legacyValue,
              viaVariable: executorConfig.viaVariable || legacy.viaVariable,
            });
          }
        }
      }
    }

    const containerResources = module.resolve(keywords.get("container_resources"));
    if (containerResources.node?.type === "call") {
      for (const requirement of this.requirements(containerResources.node)) {
        found.push({
          keyword: "container_resources",
          pattern: "container_resources",
          ...requirement,
          viaVariable: containerResources.viaVariable,
        });
      }
    }
    return found;
  }

  /** `V1ResourceRequirements(requests={…}, limits={…})`: one entry per known key. */
  private requirements(
    call: Node | null,
  ): Array<{ resource: Resource; kind: RequestKind; unit: QuantityUnit; node: Node }> {
    if (!call) return [];
    const found: Array<{ resource: Resource; kind: RequestKind; unit: QuantityUnit; node: Node }> = [];
    const keywords = keywordArguments(call);
    for (const [argument, kind] of Object.entries(resourceRequirementKinds)) {
      const mapping = this.module.resolve(keywords.get(argument)).node;
      for (const [key, value] of this.module.entries(mapping)) {
        const meaning = resourceRequirementKeys[key];
        if (meaning) found.push({ ...meaning, kind, node: value });
      }
    }
    return found;
  }
}

/** The folder of a path (a file's place in the repository keeps its meaning; a known end loses a part). */
function parentOf(path: { path: string; tail: boolean } | null): { path: string; tail: boolean } | null {
  if (!path) return null;
  const parent = posix.dirname(path.path);
  if (path.tail && (parent === "." || parent === "/")) return null;
  return { path: parent === "." ? "" : parent, tail: path.tail };
}

/**
 * Joined parts, as os.path.join and pathlib join them: an absolute part drops everything before it; an
 * unknown part leaves only the known end after it (a tail), and nothing when the last part is unknown.
 */
function joinPaths(
  parts: Array<{ path: string; tail: boolean } | null>,
): { path: string; tail: boolean } | null {
  const known: string[] = [];
  for (let index = parts.length - 1; index >= 0; index--) {
    const part = parts[index];
    if (!part) return known.length === 0 ? null : { path: known.join("/"), tail: true };
    if (part.path !== "") known.unshift(part.path);
    if (part.tail) return known.length === 0 ? null : { path: known.join("/"), tail: true };
    if (part.path.startsWith("/")) break;
  }
  return known.length === 0 ? null : { path: known.join("/"), tail: false };
}
