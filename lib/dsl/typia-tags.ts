/**
 * typia's type tags, as types only, with typia's own shape (`{ "typia.tag"?: {...} }`).
 * Apps that import `tags` from `typia` without typia installed are planned against
 * these, so `number & tags.Type<"int32">` still maps to `Int32`. Only `kind` and
 * `value` matter to planning; the other tags are accepted and do not change the
 * column type (validation is typia's business at run time).
 *
 * @example
 * import { tags } from "typia";
 * interface Row { id: string & tags.Format<"uuid">; n: number & tags.Type<"uint32"> & tags.Minimum<1> }
 */
export interface TagProps {
  readonly target: "boolean" | "bigint" | "number" | "string" | "array" | "object";
  readonly kind: string;
  readonly value: unknown;
  readonly validate?: unknown;
  readonly exclusive?: boolean | readonly string[];
  readonly schema?: object;
}

export type TagBase<Props extends TagProps> = { readonly "typia.tag"?: Props };

export type Type<Value extends "int32" | "uint32" | "int64" | "uint64" | "float" | "double"> = TagBase<{
  target: Value extends "int64" | "uint64" ? "bigint" | "number" : "number";
  kind: "type";
  value: Value;
  exclusive: true;
}>;

export type Format<
  Value extends
    | "byte"
    | "password"
    | "regex"
    | "uuid"
    | "email"
    | "hostname"
    | "idn-email"
    | "idn-hostname"
    | "iri"
    | "iri-reference"
    | "ipv4"
    | "ipv6"
    | "uri"
    | "uri-reference"
    | "uri-template"
    | "url"
    | "date-time"
    | "date"
    | "time"
    | "duration"
    | "json-pointer"
    | "relative-json-pointer",
> = TagBase<{ target: "string"; kind: "format"; value: Value; exclusive: ["format", "pattern"] }>;

export type Pattern<Value extends string> = TagBase<{ target: "string"; kind: "pattern"; value: Value; exclusive: ["format", "pattern"] }>;
export type MinLength<Value extends number> = TagBase<{ target: "string"; kind: "minLength"; value: Value }>;
export type MaxLength<Value extends number> = TagBase<{ target: "string"; kind: "maxLength"; value: Value }>;
export type Minimum<Value extends number | bigint> = TagBase<{ target: "number"; kind: "minimum"; value: Value }>;
export type Maximum<Value extends number | bigint> = TagBase<{ target: "number"; kind: "maximum"; value: Value }>;
export type ExclusiveMinimum<Value extends number | bigint> = TagBase<{ target: "number"; kind: "exclusiveMinimum"; value: Value }>;
export type ExclusiveMaximum<Value extends number | bigint> = TagBase<{ target: "number"; kind: "exclusiveMaximum"; value: Value }>;
export type MultipleOf<Value extends number | bigint> = TagBase<{ target: "number"; kind: "multipleOf"; value: Value }>;
export type MinItems<Value extends number> = TagBase<{ target: "array"; kind: "minItems"; value: Value }>;
export type MaxItems<Value extends number> = TagBase<{ target: "array"; kind: "maxItems"; value: Value }>;
export type UniqueItems<Value extends boolean = true> = TagBase<{ target: "array"; kind: "uniqueItems"; value: Value }>;
export type Default<Value extends boolean | bigint | number | string> = TagBase<{ target: "boolean" | "bigint" | "number" | "string"; kind: "default"; value: Value }>;
export type Example<Value> = TagBase<{ target: "boolean" | "bigint" | "number" | "string" | "array" | "object"; kind: "example"; value: Value }>;
export type Examples<Value extends Record<string, unknown>> = TagBase<{ target: "boolean" | "bigint" | "number" | "string" | "array" | "object"; kind: "examples"; value: Value }>;
export type JsonSchemaPlugin<Schema extends object> = TagBase<{ target: "boolean" | "bigint" | "number" | "string" | "array" | "object"; kind: "jsonPlugin"; value: undefined; schema: Schema }>;
