import type { SourcePosition } from "../errors.js";
import { compileGlob, GlobError } from "./glob.js";
import type { ClusterSpec, ValueKind } from "./schema.js";
import type { RawValue } from "./toml-document.js";

/**
 * One validator per value kind, shared by file values and environment
 * variables (an environment string is first read as the kind's TOML type), so
 * both sources accept exactly the same values.
 */

export type CoercedValue = string | number | boolean | readonly string[] | readonly ClusterSpec[];

export type Coerced =
  | { readonly ok: true; readonly value: CoercedValue }
  | {
      readonly ok: false;
      readonly expected: string;
      readonly found: string;
      /** Set when one element of an array is wrong. */
      readonly index?: number;
      readonly position?: SourcePosition;
    };

const MAX_PORT = 65535;

/** What a kind allows, as the tail of "`key` must be …". */
export function describeKind(kind: ValueKind): string {
  switch (kind.type) {
    case "boolean":
      return "true or false";
    case "port":
      return `an integer port 1–${MAX_PORT}`;
    case "positiveInteger":
      return "a positive integer";
    case "string":
      return kind.allowEmpty ? "a string" : "a non-empty string";
    case "host":
      return "a host name or IP address (no scheme, port or path)";
    case "identifier":
      return "a database name (letters, digits and _, not starting with a digit)";
    case "topicPrefix":
      return "a topic name prefix (letters, digits, '.', '_' and '-')";
    case "hostPort":
      return 'a "host:port" string';
    case "hostPortList":
      return 'a "host:port" string or a comma-separated list of them';
    case "hostPortArray":
      return 'a non-empty array of "host:port" strings';
    case "enum":
      return `one of ${kind.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "path":
      return "a non-empty path";
    case "identifierArray":
      return "an array of database names (letters, digits and _, not starting with a digit), each once";
    case "globArray":
      return "an array of glob patterns";
    case "redisUrl":
      return 'a "redis://host:port" or "rediss://host:port" URL';
    case "clusters":
      return 'an array of tables, each with name = "<cluster>" ([[clickhouse_config.clusters]])';
  }
}

/** A value as the user wrote it, for "found …". */
export function describeRaw(raw: RawValue): string {
  switch (raw.type) {
    case "string":
      return JSON.stringify(raw.value);
    case "integer":
      return raw.value.toString();
    case "float":
      return raw.text;
    case "boolean":
      return String(raw.value);
    case "datetime":
      return `a date/time ${raw.text}`;
    case "array":
      return raw.elements.length === 0 ? "an empty array" : "an array";
    case "table":
      return "a table";
    case "tableArray":
      return "an array of tables";
  }
}

/** Reads an environment variable's text as the TOML value the key's kind expects. */
export function rawFromEnv(kind: ValueKind, text: string): RawValue {
  switch (kind.type) {
    case "boolean": {
      const lower = text.trim().toLowerCase();
      if (lower === "true" || lower === "1") return { type: "boolean", value: true };
      if (lower === "false" || lower === "0") return { type: "boolean", value: false };
      return { type: "string", value: text };
    }
    case "port":
    case "positiveInteger":
      return /^\s*[+-]?\d+\s*$/.test(text) ? { type: "integer", value: BigInt(text.trim()) } : { type: "string", value: text };
    case "hostPortArray":
    case "identifierArray":
    case "globArray":
      return { type: "array", elements: text.split(",").map((s) => ({ type: "string", value: s.trim() })) };
    case "clusters":
      return {
        type: "array",
        elements: text.split(",").map((s) => ({
          type: "table",
          fields: new Map([["name", { position: { file: "(environment)", line: 1, column: 1 }, value: { type: "string", value: s.trim() } }]]),
        })),
      };
    default:
      return { type: "string", value: text };
  }
}

/** What an environment variable must hold (arrays are comma-separated there). */
export function describeEnvKind(kind: ValueKind): string {
  switch (kind.type) {
    case "hostPortArray":
      return 'a comma-separated list of "host:port" strings';
    case "identifierArray":
      return "a comma-separated list of database names";
    case "globArray":
      return "a comma-separated list of glob patterns";
    case "clusters":
      return "a comma-separated list of cluster names";
    default:
      return describeKind(kind);
  }
}

/** The type of a value without the value itself, for secrets. */
export function describeRawType(raw: RawValue): string {
  switch (raw.type) {
    case "string":
      return "a string";
    case "integer":
      return "an integer";
    case "float":
      return "a float";
    case "boolean":
      return "a boolean";
    case "datetime":
      return "a date/time";
    default:
      return describeRaw(raw);
  }
}

export function coerce(kind: ValueKind, raw: RawValue, options: { readonly secret?: boolean } = {}): Coerced {
  // Positioned by the caller at the key; only array elements carry their own position.
  const fail = (): Coerced => ({
    ok: false,
    expected: describeKind(kind),
    found: options.secret ? describeRawType(raw) : describeRaw(raw),
  });
  const ok = (value: CoercedValue): Coerced => ({ ok: true, value });
  const badElement = (index: number, element: RawValue, expected: string): Coerced => ({
    ok: false,
    expected,
    found: describeRaw(element),
    index,
    ...(element.position === undefined ? {} : { position: element.position }),
  });

  switch (kind.type) {
    case "boolean":
      return raw.type === "boolean" ? ok(raw.value) : fail();
    case "port":
      return raw.type === "integer" && raw.value >= 1n && raw.value <= BigInt(MAX_PORT) ? ok(Number(raw.value)) : fail();
    case "positiveInteger":
      return raw.type === "integer" && raw.value >= 1n && raw.value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? ok(Number(raw.value))
        : fail();
    case "string":
      return raw.type === "string" && (kind.allowEmpty || raw.value !== "") ? ok(raw.value) : fail();
    case "host":
      return raw.type === "string" && isHost(raw.value) ? ok(raw.value) : fail();
    case "identifier":
      return raw.type === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.value) ? ok(raw.value) : fail();
    case "topicPrefix":
      return raw.type === "string" && /^[A-Za-z0-9._-]+$/.test(raw.value) ? ok(raw.value) : fail();
    case "hostPort":
      return raw.type === "string" && isHostPort(raw.value) ? ok(raw.value) : fail();
    case "hostPortList": {
      if (raw.type !== "string") return fail();
      const list = raw.value.split(",").map((s) => s.trim());
      return list.every(isHostPort) ? ok(list) : fail();
    }
    case "hostPortArray": {
      if (raw.type !== "array" || raw.elements.length === 0) return fail();
      const list: string[] = [];
      for (const [index, element] of raw.elements.entries()) {
        if (element.type !== "string" || !isHostPort(element.value)) {
          return {
            ok: false,
            expected: describeKind({ type: "hostPort" }),
            found: describeRaw(element),
            index,
            ...(element.position === undefined ? {} : { position: element.position }),
          };
        }
        list.push(element.value);
      }
      return ok(list);
    }
    case "enum": {
      if (raw.type !== "string") return fail();
      // Kafka documentation spells these both ways; accept either, store the canonical one.
      const match = kind.values.find((v) => v.toLowerCase() === raw.value.toLowerCase());
      return match === undefined ? fail() : ok(match);
    }
    case "path":
      return raw.type === "string" && raw.value !== "" && !raw.value.includes("\0") ? ok(raw.value) : fail();
    case "identifierArray": {
      if (raw.type !== "array") return fail();
      const list: string[] = [];
      for (const [index, element] of raw.elements.entries()) {
        if (element.type !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(element.value)) {
          return badElement(index, element, describeKind({ type: "identifier" }));
        }
        if (list.includes(element.value)) return badElement(index, element, "a database name not listed before");
        list.push(element.value);
      }
      return ok(list);
    }
    case "globArray": {
      if (raw.type !== "array") return fail();
      const list: string[] = [];
      for (const [index, element] of raw.elements.entries()) {
        if (element.type !== "string" || element.value === "") return badElement(index, element, "a non-empty glob pattern");
        try {
          compileGlob(element.value);
        } catch (error) {
          if (!(error instanceof GlobError)) throw error;
          return badElement(index, element, `a valid glob pattern (${error.message})`);
        }
        list.push(element.value);
      }
      return ok(list);
    }
    case "redisUrl": {
      if (raw.type !== "string") return fail();
      let url: URL;
      try {
        url = new URL(raw.value);
      } catch {
        return fail();
      }
      return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "" ? ok(raw.value) : fail();
    }
    case "clusters":
      return coerceClusters(raw, fail, badElement);
  }
}

/** Moose's `ClusterConfig` is `{ name }` and nothing else; names are ClickHouse cluster names, each once. */
function coerceClusters(
  raw: RawValue,
  fail: () => Coerced,
  badElement: (index: number, element: RawValue, expected: string) => Coerced,
): Coerced {
  const tables: Array<{ position?: RawValue["position"]; fields?: ReadonlyMap<string, { readonly position: SourcePosition; readonly value: RawValue }>; raw: RawValue }> =
    raw.type === "tableArray"
      ? raw.tables.map((t) => ({ position: t.position, fields: t.fields, raw: { type: "table", position: t.position } }))
      : raw.type === "array"
        ? raw.elements.map((e) => ({ position: e.position, ...(e.type === "table" && e.fields ? { fields: e.fields } : {}), raw: e }))
        : [];
  if (raw.type !== "tableArray" && raw.type !== "array") return fail();
  const list: ClusterSpec[] = [];
  for (const [index, table] of tables.entries()) {
    if (table.fields === undefined) return badElement(index, table.raw, 'a table { name = "<cluster>" }');
    for (const [key, field] of table.fields) {
      if (key !== "name") {
        return {
          ok: false,
          expected: 'only name = "<cluster>" (unknown key ' + key + ")",
          found: describeRaw(field.value),
          index,
          position: field.position,
        };
      }
    }
    const name = table.fields.get("name");
    if (name === undefined) return badElement(index, table.raw, 'a table with name = "<cluster>"');
    if (name.value.type !== "string" || !/^[A-Za-z0-9_.-]+$/.test(name.value.value)) {
      return { ok: false, expected: "a cluster name (letters, digits, '_', '.' and '-')", found: describeRaw(name.value), index, position: name.position };
    }
    const value = name.value.value;
    if (list.some((c) => c.name === value)) {
      return { ok: false, expected: "a cluster name not listed before", found: describeRaw(name.value), index, position: name.position };
    }
    list.push({ name: value });
  }
  return { ok: true, value: list };
}

function isHost(value: string): boolean {
  if (/^[A-Za-z0-9._-]+$/.test(value)) return true;
  // IPv6 literals, with or without brackets.
  return /^\[?[0-9A-Fa-f:.]+\]?$/.test(value) && (value.match(/:/g)?.length ?? 0) >= 2;
}

function isHostPort(value: string): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= MAX_PORT;
}
