/**
 * One Python file as the scanners see it: its indexed nodes, its module-level names (followed when a
 * value is a name), and the findings recorded so far, one per literal shared by its tasks. The Airflow
 * model and the Prefect `.deploy()` scanner both read through it.
 */
import type { Node } from "web-tree-sitter";
import type {
  Finding,
  Pattern,
  RequestKind,
  Resource,
  ScanResult,
  TaskKeyword,
  TaskSite,
} from "./findings.js";
import { type Literal, parseDeclared, type QuantityUnit } from "./quantities.js";
import {
  calleeName,
  descendantsOf,
  type IndexedNode,
  indexTree,
  keywordArguments,
  stringValue,
} from "./python-syntax.js";

/**
 * How many module-level names are followed from one use (`POD = BASE`, `BASE = k8s.V1Pod(…)`): real DAG
 * files chain two or three; the bound stops `A = B; B = A` from looping.
 */
const maxNameDepth = 5;

export interface Resolved {
  node: Node | null;
  /** True when the value came through a module-level name. */
  viaVariable: boolean;
}

export interface RecordedDeclaration {
  pattern: Pattern;
  resource: Resource;
  kind: RequestKind;
  unit: QuantityUnit;
  node: Node;
}

export class PythonModule {
  readonly variables = new Map<string, Node>();
  /** The K8s models module name the file imports (`k8s` in `from kubernetes.client import models as k8s`). */
  k8sModule = "k8s";
  private readonly index: IndexedNode[];
  private readonly findings = new Map<string, Finding>();

  constructor(
    readonly file: string,
    readonly text: string,
    readonly root: Node,
    readonly result: ScanResult,
  ) {
    this.index = indexTree(root);
    this.collectModule();
  }

  /** Calls `visit` on every indexed node in document order, optionally skipping those inside decorators. */
  visit(skipDecorated: boolean, visit: (node: Node) => unknown): void {
    for (const entry of this.index) if (!(skipDecorated && entry.inDecorator)) visit(entry.node);
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

  /** Follows module-level names to the value they hold. */
  resolve(node: Node | undefined | null, depth = 0): Resolved {
    if (!node) return { node: null, viaVariable: false };
    if (node.type === "identifier" && depth < maxNameDepth) {
      const value = this.variables.get(node.text);
      if (value) return { node: this.resolve(value, depth + 1).node, viaVariable: true };
    }
    return { node, viaVariable: depth > 0 };
  }

  /** Key/value pairs of a dict literal (string keys) or of a call's keyword arguments (`Resources(cpus=…)`). */
  entries(node: Node | null): Array<[string, Node]> {
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
  findCall(node: Node | null, name: string, depth = 0): Resolved {
    if (!node || depth > maxNameDepth) return { node: null, viaVariable: false };
    let found: Resolved = { node: null, viaVariable: false };
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

  /** A number or a plain string; null for anything that needs evaluating (calls, f-strings, Jinja, names). */
  literalOf(node: Node): Literal | null {
    if (node.type === "integer" || node.type === "float") return { kind: "number", text: node.text };
    const text = stringValue(node);
    if (text === null || text === "" || text.includes("{{")) return null;
    return { kind: "string", text };
  }

  private stringContentRange(node: Node): { start: number; end: number } {
    const content = node.namedChildren.find((child) => child?.type === "string_content")!;
    return { start: content.startIndex, end: content.endIndex };
  }

  /** Adds a task to the finding at the value's place (one finding per literal, shared by its tasks). */
  record(
    declaration: RecordedDeclaration,
    orchestrator: "airflow" | "prefect",
    pipeline: string,
    task: string,
    via: Finding["via"],
    extra: Partial<Finding> = {},
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
      ...extra,
    });
  }

  /** Where a per-task override can be written for the call or decorator `node`. */
  site(
    pipeline: string,
    task: string,
    node: Node,
    keywords: Map<string, Node>,
    argumentsNode: Node,
    bare: boolean,
  ): TaskSite {
    const sites: TaskSite["keywords"] = {};
    for (const keyword of ["resources", "executor_config", "container_resources"] as TaskKeyword[]) {
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

  /** Moves the recorded findings into the result, each with its tasks sorted. */
  finish(): void {
    this.result.findings.push(
      ...[...this.findings.values()].map((finding) => ({ ...finding, tasks: finding.tasks.sort() })),
    );
  }
}
