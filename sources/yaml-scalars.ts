/**
 * Reading declared values out of YAML files with the `yaml` package's Document API (pure): the node
 * ranges let a patch replace exactly one scalar — between its quotes when quoted — so comments, quotes,
 * anchors and layout stay as the owner wrote them. Used by the pod-template and Helm-values scanners.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
} from "yaml";
import type { ScanProblem } from "./findings.js";
import type { Literal } from "./quantities.js";

export interface ParsedYaml {
  document: Document;
  lineCounter: LineCounter;
}

/**
 * Parses one YAML file (or, with `language: "JSON"`, a JSON one: no YAML 1.1 merge keys, and duplicate
 * keys refused since JSON readers disagree on which one wins); a malformed one is a problem naming the
 * line of its first error.
 */
export function parseYamlFile(
  file: string,
  text: string,
  language: "YAML" | "JSON" = "YAML",
): ParsedYaml | ScanProblem {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, merge: language === "YAML" });
  const error = document.errors[0];
  if (error) {
    return {
      file,
      line: lineCounter.linePos(error.pos[0]).line,
      message: `not valid ${language}: ${error.message.split("\n")[0]}; file skipped`,
    };
  }
  return { document, lineCounter };
}

/** Follows an alias to its anchor's node. */
export function derefYaml(document: Document, node: unknown): unknown {
  // An alias resolves to its anchor's node; the bound only guards against a malformed document.
  let current = node;
  for (let depth = 0; depth < 10 && isAlias(current); depth++) current = current.resolve(document);
  return current;
}

/**
 * The node at `path` (mapping keys and sequence indexes) below `node`, following aliases and `<<`
 * merge keys (Helm reads values with YAML 1.1 merges; a pod template is read by PyYAML's safe loader,
 * which honors them too). Undefined when any step is missing.
 */
export function yamlAt(document: Document, node: unknown, path: Array<string | number>): unknown {
  let current = derefYaml(document, node);
  for (const step of path) {
    if (typeof step === "number") {
      current = isSeq(current) ? derefYaml(document, current.items[step]) : undefined;
    } else {
      current = mapValue(document, current, step);
    }
    if (current === undefined) return undefined;
  }
  return current;
}

/** With `merge: true` the `yaml` package (2.x) gives a `<<` merge key the value `Symbol(<<)`, not "<<". */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === "symbol" && key.value.description === "<<";
}

function mapValue(document: Document, node: unknown, key: string): unknown {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isPair(pair) && isScalar(pair.key) && pair.key.value === key) return derefYaml(document, pair.value);
  }
  for (const pair of node.items) {
    if (!isPair(pair) || !isMergeKey(pair.key)) continue;
    const merged = derefYaml(document, pair.value);
    for (const source of isSeq(merged) ? merged.items : [merged]) {
      const found = mapValue(document, derefYaml(document, source), key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** A scalar's place and literal, as the scanners record them. */
export interface YamlScalarValue {
  line: number;
  column: number;
  /** The range a patch replaces: the whole plain scalar, or the text between the quotes. */
  start: number;
  end: number;
  raw: string;
  /** Null when the value needs evaluating (a Helm or Jinja template `{{ … }}`, an escape, an empty value). */
  literal: Literal | null;
}

/** The literal a scalar holds, with its exact place; null when `node` is not a scalar with a range. */
export function yamlScalarValue(
  text: string,
  node: unknown,
  lineCounter: LineCounter,
): YamlScalarValue | null {
  if (!isScalar(node) || !node.range) return null;
  const [start, end] = node.range;
  const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
  const raw = text.slice(start, end);
  const inner = quoted ? raw.slice(1, -1) : raw;
  let literal: Literal | null = null;
  if (typeof node.value === "number" && !quoted) literal = { kind: "number", text: raw };
  else if (typeof node.value === "string" && node.value !== "" && !node.value.includes("{{")) {
    // A quoted scalar whose text differs from its value holds escapes: not patched in place.
    literal = inner === node.value ? { kind: "string", text: inner } : null;
  }
  const position = lineCounter.linePos(start);
  return {
    line: position.line,
    column: position.col,
    start: quoted ? start + 1 : start,
    end: quoted ? end - 1 : end,
    raw,
    literal,
  };
}
