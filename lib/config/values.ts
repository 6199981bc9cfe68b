import type { SourcePosition } from "../errors.js";
import type { ValueKind } from "./schema.js";
import type { RawValue } from "./toml-document.js";

/**
 * One validator per value kind, shared by file values and environment
 * variables (an environment string is first read as the kind's TOML type), so
 * both sources accept exactly the same values.
 */

export type Coerced =
  | { readonly ok: true; readonly value: string | number | boolean | readonly string[] }
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
      return { type: "array", elements: text.split(",").map((s) => ({ type: "string", value: s.trim() })) };
    default:
      return { type: "string", value: text };
  }
}

/** What an environment variable must hold (arrays are comma-separated there). */
export function describeEnvKind(kind: ValueKind): string {
  return kind.type === "hostPortArray" ? 'a comma-separated list of "host:port" strings' : describeKind(kind);
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
  const ok = (value: string | number | boolean | readonly string[]): Coerced => ({ ok: true, value });

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
  }
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
