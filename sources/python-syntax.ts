/**
 * Python syntax helpers over tree-sitter-python's tree (pure, no Airflow or Prefect knowledge): the parser,
 * call arguments, string literals and a one-pass index of the node types the scanners look at.
 */
import { createRequire } from "node:module";
import { Language, type Node, Parser } from "web-tree-sitter";

let parserPromise: Promise<Parser> | undefined;

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

/** The last segment of a called name: `DAG`, `models.DAG` → `DAG`. */
export function calleeName(call: Node): string | null {
  const fn = call.childForFieldName("function");
  if (!fn) return null;
  if (fn.type === "identifier") return fn.text;
  if (fn.type === "attribute") return fn.childForFieldName("attribute")?.text ?? null;
  return null;
}

export function keywordArguments(call: Node): Map<string, Node> {
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

export function positionalArguments(call: Node): Node[] {
  const args = call.childForFieldName("arguments");
  return (args?.namedChildren ?? []).filter(
    (child): child is Node => child !== null && child.type !== "keyword_argument" && child.type !== "comment",
  );
}

/** The value of a plain string literal (no f-string, no concatenation), else null. */
export function stringValue(node: Node | undefined | null): string | null {
  if (node?.type !== "string") return null;
  if (node.namedChildren.some((child) => child?.type === "interpolation")) return null;
  const start = node.namedChildren.find((child) => child?.type === "string_start")?.text ?? "";
  if (/[fF]/.test(start)) return null;
  return node.namedChildren
    .filter((child) => child?.type === "string_content")
    .map((child) => child!.text)
    .join("");
}

/** Depth-first walk; `visit` returning false skips the node's children. */
export function descendantsOf(node: Node, visit: (node: Node) => boolean | undefined): void {
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

export interface IndexedNode {
  node: Node;
  inDecorator: boolean;
}

/** The node types the scanners look at; everything else is walked past without materializing a Node. */
const indexedTypes = new Set(["assignment", "call", "with_statement", "decorated_definition"]);

/**
 * One pass over the tree with a cursor, keeping only the node types the scanners need, in document
 * order. Materializing every node through web-tree-sitter's JS wrappers was most of the scan's time
 * (bench/requests.bench.ts).
 */
export function indexTree(root: Node): IndexedNode[] {
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
export function withItems(statement: Node): Node[] {
  const clause = statement.namedChildren.find((child) => child?.type === "with_clause");
  return (clause?.namedChildren ?? []).filter((child): child is Node => child?.type === "with_item");
}

export function within(node: Node, scope: Node): boolean {
  return node.startIndex >= scope.startIndex && node.endIndex <= scope.endIndex;
}

/** The decorators of a decorated definition, each as its expression (`task`, `task(…)`, `dag.task`). */
export function decoratorExpressions(node: Node): Node[] {
  return node.namedChildren
    .filter((child) => child?.type === "decorator")
    .map((decorator) => decorator!.namedChild(0))
    .filter((expression): expression is Node => expression !== null);
}
