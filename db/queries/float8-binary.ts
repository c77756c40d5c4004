/**
 * Numbers read as binary float8 arrays instead of text columns: a query packs a row's numbers into one
 * float8[] (or a task's runs into one float8[][]) with `array_send`, and these decode it. No float is
 * formatted as text by the server nor parsed back here, which was most of the night's read before
 * (BENCHMARKS.md "analysis").
 *
 * The layout is Postgres' array_send (src/backend/utils/adt/arrayfuncs.c): int4 dimensions, int4 has-nulls
 * flag, oid element type, then per dimension int4 length and int4 lower bound; then per element, in
 * row-major order, an int4 byte length (-1: null) and the value (float8send: IEEE 754, big-endian).
 * postgres.js hands bytea over as a Buffer, PGlite as a Uint8Array; a driver that left it as `\x…` hex text
 * is read too.
 */

/** The numbers a query packs, by name: each name's SQL source, in a fixed order. */
export function numberColumns<Name extends string>(sources: Record<Name, string>) {
  const names = Object.keys(sources) as Name[];
  const index = Object.fromEntries(names.map((name, at) => [name, at])) as Record<Name, number>;
  return {
    /** How many numbers a row packs. */
    width: names.length,
    /** The sources as an SQL list, in the packing order: `array[${list}]::float8[]`. */
    list: names.map((name) => sources[name]).join(", "),
    /** A reader of one packed row's numbers by name (null where the row has none). */
    reader:
      (numbers: ReadonlyArray<number | null>) =>
      (name: Name): number | null =>
        numbers[index[name]] ?? null,
  };
}

function viewOf(value: Uint8Array | string): DataView {
  const bytes = typeof value === "string" ? Buffer.from(value.replace(/^\\x/, ""), "hex") : value;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `count` elements from `offset`; returns them and the offset after them. */
function readElements(view: DataView, offset: number, count: number): [Array<number | null>, number] {
  const values = new Array<number | null>(count);
  for (let index = 0; index < count; index++) {
    const size = view.getInt32(offset);
    if (size === -1) {
      values[index] = null;
      offset += 4;
    } else {
      values[index] = view.getFloat64(offset + 4);
      offset += 12;
    }
  }
  return [values, offset];
}

/** A float8[] in array_send's binary form (null stays null). */
export function float8ArrayFromBinary(value: Uint8Array | string | null): Array<number | null> | null {
  if (value === null) return null;
  const view = viewOf(value);
  const dimensions = view.getInt32(0);
  if (dimensions === 0) return [];
  if (dimensions !== 1) throw new Error(`a float8[] of ${dimensions} dimensions where one was expected`);
  return readElements(view, 20, view.getInt32(12))[0];
}

/**
 * A float8[][] in array_send's binary form, as rows of `width` values. A one-dimensional array of `width`
 * values (array_agg of a single row) is one row.
 */
export function float8RowsFromBinary(value: Uint8Array | string, width: number): Array<Array<number | null>> {
  const view = viewOf(value);
  const dimensions = view.getInt32(0);
  if (dimensions === 0) return [];
  if (dimensions !== 2) {
    const flat = float8ArrayFromBinary(value) ?? [];
    return flat.length === width ? [flat] : [];
  }
  const rows = view.getInt32(12);
  const columns = view.getInt32(20);
  if (columns !== width) throw new Error(`a float8[][] of ${columns} columns where ${width} were expected`);
  const result: Array<Array<number | null>> = [];
  let offset = 28;
  for (let row = 0; row < rows; row++) {
    const [values, next] = readElements(view, offset, columns);
    result.push(values);
    offset = next;
  }
  return result;
}
