/**
 * Reading declared values out of YAML (and JSON, which the `yaml` package parses as YAML 1.2 flow
 * documents, with the same node ranges): mappings with anchors, aliases and `<<` merges followed, and
 * scalars as findings whose ranges a patch replaces exactly, keeping quotes and comments. Pure.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, Scalar } from "yaml";
import type { Finding } from "./findings.js";
import { type Literal, parseDeclared, type QuantityUnit } from "./quantities.js";

export type YamlNode = unknown;

/** The node an alias stands for (the node itself when it is no alias). */
export function deref(document: Document, node: YamlNode): YamlNode {
  let current = node;
  // An alias resolves to its anchor's node, never to another alias in practice; the bound only
  // guards against a malformed document.
  for (let depth = 0; depth < 10 && isAlias(current); depth++) current = current.resolve(document);
  return current;
}

/**
 * A `<<` merge key. With `merge: true` the `yaml` package reads its key as a symbol, not the string "<<"
 * (yaml/dist/schema/yaml-1.1/merge.js), so both are recognised.
 */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key.value === "<<" || (typeof key.value === "symbol" && key.source === "<<"));
}

/**
 * A key of a mapping, following `<<: *anchor` merges (YAML 1.1 merge keys, which PyYAML's loaders — and
 * so Prefect and dag-factory — read).
 */
export function lookup(document: Document, node: YamlNode, key: string): YamlNode {
  const map = deref(document, node);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isPair(pair) && isScalar(pair.key) && pair.key.value === key) return deref(document, pair.value);
  }
  for (const pair of map.items) {
    if (isPair(pair) && isMergeKey(pair.key)) {
      const merged = deref(document, pair.value);
      const sources = isSeq(merged) ? merged.items : [merged];
      for (const source of sources) {
        const found = lookup(document, source, key);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

/** A mapping's entries, merged ones included; keys written in the mapping win (merge-key semantics). */
export function entries(document: Document, node: YamlNode): Array<[string, YamlNode]> {
  const map = deref(document, node);
  if (!isMap(map)) return [];
  const own: Array<[string, YamlNode]> = [];
  const merged: Array<[string, YamlNode]> = [];
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    if (isMergeKey(pair.key)) {
      const source = deref(document, pair.value);
      for (const item of isSeq(source) ? source.items : [source]) merged.push(...entries(document, item));
    } else {
      own.push([key, deref(document, pair.value)]);
    }
  }
  const seen = new Set<string>();
  return [...own, ...merged].filter(([key]) => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A scalar's literal: numbers as written, strings between their quotes. Null (dynamic) for what is
 * evaluated before use: Jinja templates (`{{ … }}`), environment variables (`$VAR`, `${VAR}`, which
 * dag-factory expands with `os.path.expandvars` before loading), empty strings and quoted strings with
 * escapes (whose text differs from their value).
 */
export function scalarLiteral(text: string, scalar: Scalar): Literal | null {
  const [start, end] = scalar.range!;
  const raw = text.slice(start, end);
  const quoted = scalar.type === Scalar.QUOTE_DOUBLE || scalar.type === Scalar.QUOTE_SINGLE;
  const value = scalar.value;
  if (typeof value === "number") return /[${}]/.test(raw) ? null : { kind: "number", text: raw };
  if (typeof value !== "string" || value === "" || value.includes("{{") || /\$(\w|\{)/.test(value))
    return null;
  const inner = quoted ? raw.slice(1, -1) : raw;
  return inner === value ? { kind: "string", text: inner } : null;
}

/** What a scalar declares, besides its place: everything of a {@link Finding} but the position. */
export type FindingMeaning = Omit<
  Finding,
  "file" | "line" | "column" | "start" | "end" | "raw" | "literal" | "unit" | "value" | "dynamic"
>;

/**
 * A finding at a scalar. `unitOf` tells the unit from the literal (Prefect reads numbers as ECS units and
 * strings as Kubernetes quantities); a literal that does not read as a value makes the finding dynamic.
 */
export function scalarFinding(
  file: string,
  text: string,
  scalar: Scalar,
  lineCounter: LineCounter,
  unitOf: (literal: Literal | null) => QuantityUnit,
  meaning: FindingMeaning,
): Finding {
  const [start, end] = scalar.range!;
  const quoted = scalar.type === Scalar.QUOTE_DOUBLE || scalar.type === Scalar.QUOTE_SINGLE;
  const literal = scalarLiteral(text, scalar);
  const unit = unitOf(literal);
  const value = literal ? parseDeclared(unit, literal) : Number.NaN;
  const dynamic = literal === null || !Number.isFinite(value);
  const position = lineCounter.linePos(start);
  return {
    file,
    line: position.line,
    column: position.col,
    start: quoted ? start + 1 : start,
    end: quoted ? end - 1 : end,
    raw: text.slice(start, end),
    literal: dynamic ? null : literal,
    unit,
    value: dynamic ? null : value,
    dynamic,
    ...meaning,
  };
}
