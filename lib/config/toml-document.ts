import { ParseError, parseTOML, type AST } from "toml-eslint-parser";
import { InvalidInputError, type SourcePosition } from "../errors.js";

/**
 * A TOML document flattened to one entry per key path, each with the position
 * of the key that defines it. Validation needs kinds the value tree of
 * `getStaticTOMLValue` erases (integer vs float: `1000.0` is not a valid
 * timeout) and a position for every error, so we walk the AST ourselves.
 */

export type RawValue =
  | { readonly type: "string"; readonly value: string; readonly position?: SourcePosition }
  | { readonly type: "integer"; readonly value: bigint; readonly position?: SourcePosition }
  | { readonly type: "float"; readonly value: number; readonly text: string; readonly position?: SourcePosition }
  | { readonly type: "boolean"; readonly value: boolean; readonly position?: SourcePosition }
  | { readonly type: "datetime"; readonly text: string; readonly position?: SourcePosition }
  | { readonly type: "array"; readonly elements: readonly RawValue[]; readonly position?: SourcePosition }
  /** `fields` only for inline tables (`{ name = "a" }`); a `[table]`'s keys are entries of their own. */
  | { readonly type: "table"; readonly position?: SourcePosition; readonly fields?: TomlFields }
  /** `[[path]]`: one element per header, in document order. */
  | { readonly type: "tableArray"; readonly position?: SourcePosition; readonly tables: readonly TomlTable[] };

/** The keys of one table, dotted when nested (`a.b`), each with the position of its key. */
export type TomlFields = ReadonlyMap<string, { readonly position: SourcePosition; readonly value: RawValue }>;

export interface TomlTable {
  readonly position: SourcePosition;
  readonly fields: TomlFields;
}

export interface TomlEntry {
  /** Key path from the document root, e.g. `["clickhouse_config", "host_port"]`. */
  readonly path: readonly string[];
  /** Where the last key of `path` is written. */
  readonly position: SourcePosition;
  readonly value: RawValue;
}

/**
 * Parses TOML text into entries in document order, first definition of each path wins.
 * A syntax error throws `InvalidInputError` `CONFIG_INVALID` at the error's position.
 */
export function readTomlEntries(text: string, file: string): TomlEntry[] {
  try {
    return readEntries(text, file);
  } catch (error) {
    // Arrays or inline tables nested tens of thousands deep overflow the parser's recursion.
    if (error instanceof RangeError) {
      throw new InvalidInputError("CONFIG_INVALID", `invalid TOML: values are nested too deeply to read (${error.message})`, {
        position: { file, line: 1, column: 1 },
        hint: "a moose config nests a few levels at most: check that this is the project's config file",
      });
    }
    throw error;
  }
}

function readEntries(text: string, file: string): TomlEntry[] {
  // Editors do not count a byte-order mark as a column, and the parser rejects it.
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(source, { filePath: file, tomlVersion: "1.0" });
  } catch (error) {
    if (error instanceof ParseError) throw syntaxError(error, source, file);
    throw error;
  }

  const entries = new Map<string, TomlEntry>();
  const pos = (node: AST.HasLocs): SourcePosition => ({
    file,
    line: node.loc.start.line,
    column: node.loc.start.column + 1,
  });
  const add = (path: readonly string[], position: SourcePosition, value: RawValue): void => {
    const id = JSON.stringify(path);
    if (!entries.has(id)) entries.set(id, { path, position, value });
  };
  // Every key part before the last one opens a table (`a.b = 1` defines table `a`).
  const addKey = (prefix: readonly string[], key: AST.TOMLKey): string[] => {
    const path = [...prefix];
    key.keys.forEach((part, i) => {
      path.push(keyText(part));
      if (i < key.keys.length - 1) add([...path], pos(part), { type: "table", position: pos(part) });
    });
    return path;
  };
  const addKeyValue = (prefix: readonly string[], kv: AST.TOMLKeyValue): void => {
    const path = addKey(prefix, kv.key);
    const last = kv.key.keys[kv.key.keys.length - 1] ?? kv.key;
    add(path, pos(last), rawValue(kv.value, pos));
    if (kv.value.type === "TOMLInlineTable") for (const inner of kv.value.body) addKeyValue(path, inner);
  };

  // The elements of each `[[array]]`, filled as their headers come.
  const tableArrays = new Map<string, Array<{ position: SourcePosition; fields: Map<string, { position: SourcePosition; value: RawValue }> }>>();
  const fieldsOf = (body: readonly AST.TOMLKeyValue[], into: Map<string, { position: SourcePosition; value: RawValue }>, prefix = ""): void => {
    for (const kv of body) {
      const last = kv.key.keys[kv.key.keys.length - 1] ?? kv.key;
      const name = prefix + kv.key.keys.map(keyText).join(".");
      if (!into.has(name)) into.set(name, { position: pos(last), value: rawValue(kv.value, pos) });
    }
  };

  for (const node of program.body[0].body) {
    if (node.type === "TOMLKeyValue") {
      addKeyValue([], node);
      continue;
    }
    const last = node.key.keys[node.key.keys.length - 1] ?? node.key;
    // An `[[array]]` header's resolved key ends with the element's index.
    const key = node.kind === "array" ? node.resolvedKey.slice(0, -1) : node.resolvedKey;
    const index = key.findIndex((k) => typeof k === "number");
    if (index >= 0) {
      // `[a.b.c]` after `[[a.b]]` is a sub-table of the array's last element: a field of that element.
      const owner = tableArrays.get(JSON.stringify(key.slice(0, index).map(String)));
      const element = owner?.[owner.length - 1];
      const rest = key.slice(index + 1).map(String).join(".");
      if (element && !element.fields.has(rest)) element.fields.set(rest, { position: pos(last), value: { type: "table", position: pos(last) } });
      if (element) fieldsOf(node.body, element.fields, `${rest}.`);
      continue;
    }
    const path = key.map(String);
    if (node.kind === "array") {
      addKey([], node.key);
      const id = JSON.stringify(path);
      let tables = tableArrays.get(id);
      if (tables === undefined) {
        tables = [];
        tableArrays.set(id, tables);
        add(path, pos(last), { type: "tableArray", position: pos(last), tables });
      }
      const fields = new Map<string, { position: SourcePosition; value: RawValue }>();
      fieldsOf(node.body, fields);
      tables.push({ position: pos(last), fields });
      continue;
    }
    addKey([], node.key);
    add(path, pos(last), { type: "table", position: pos(last) });
    for (const kv of node.body) addKeyValue(path, kv);
  }
  return [...entries.values()];
}

function keyText(part: AST.TOMLBare | AST.TOMLQuoted): string {
  return part.type === "TOMLBare" ? part.name : part.value;
}

function rawValue(node: AST.TOMLContentNode, pos: (node: AST.HasLocs) => SourcePosition): RawValue {
  const position = pos(node);
  switch (node.type) {
    case "TOMLArray":
      return { type: "array", elements: node.elements.map((e) => rawValue(e, pos)), position };
    case "TOMLInlineTable": {
      const fields = new Map<string, { position: SourcePosition; value: RawValue }>();
      for (const kv of node.body) {
        const name = kv.key.keys.map(keyText).join(".");
        const last = kv.key.keys[kv.key.keys.length - 1] ?? kv.key;
        if (!fields.has(name)) fields.set(name, { position: pos(last), value: rawValue(kv.value, pos) });
      }
      return { type: "table", position, fields };
    }
    case "TOMLValue":
      switch (node.kind) {
        case "string":
          return { type: "string", value: node.value, position };
        case "integer":
          return { type: "integer", value: node.bigint, position };
        case "float":
          return { type: "float", value: node.value, text: node.number, position };
        case "boolean":
          return { type: "boolean", value: node.value, position };
        default:
          return { type: "datetime", text: node.datetime, position };
      }
  }
}

function syntaxError(error: ParseError, source: string, file: string): InvalidInputError {
  const position = { file, line: error.lineNumber, column: error.column + 1 };
  const lineText = source.split(/\r?\n/)[error.lineNumber - 1] ?? "";
  const beforeError = lineText.slice(0, error.column);
  // The most common slip: a bare word where a string belongs (`host = localhost`).
  const hint = /=\s*$/.test(beforeError) && /^[A-Za-z]/.test(lineText.slice(error.column))
    ? 'text values need quotes (host = "localhost"); booleans are true or false, unquoted'
    : undefined;
  const what =
    error.message === "Unexpected character"
      ? `unexpected character ${JSON.stringify(source.charAt(error.index))}`
      : error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return new InvalidInputError("CONFIG_INVALID", `invalid TOML: ${what}`, {
    position,
    cause: error,
    ...(hint === undefined ? {} : { hint }),
  });
}
