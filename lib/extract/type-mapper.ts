import ts from "./typescript.cjs";
import { InvalidInputError, type SourcePosition } from "../errors.js";
import type { Column } from "../model/infra-map.js";
import { positionOf } from "./static-value.js";
import { quoteIdentifier } from "../model/clickhouse-quote.js";

/**
 * Maps the TypeScript type of a record (`T` in `OlapTable<T>`) to ClickHouse
 * columns. Rules (README "Type mapping"):
 *
 *   string → String, number → Float64, boolean → Bool, Date → DateTime('UTC'),
 *   `x?: T`, `T | undefined`, `T | null` → Nullable(T) (not for arrays and
 *   nested objects, which ClickHouse cannot make Nullable: absent means empty),
 *   T[] → Array(T), nested object → Nested(...) (`& ClickHouseNamedTuple` →
 *   Tuple(...)), Record<string, T> → Map(String, T), Record<string, any> → JSON,
 *   string-literal union → LowCardinality(String), TS enum → Enum8/Enum16,
 *   plus the branded helpers of `lib/dsl/column-types.ts` and typia tags.
 * These are the types the original Moose produces for the same declarations,
 * so an app moving over plans no changes.
 *
 * Helper types are recognised by the optional marker properties they add
 * (`_clickhouse_precision?: P`, `"typia.tag"?: {...}`), never by their names,
 * so aliases and re-exports work.
 */
export interface MappedColumn {
  readonly column: Column;
  /** Marked `Key<...>`: part of the default ORDER BY. */
  readonly key: boolean;
  readonly position: SourcePosition;
  /** The values of a string-literal union field (of its elements, for an array), sorted; API parameters are checked against them. */
  readonly oneOf?: readonly string[];
}

/** Something worth telling the user that does not stop planning (a codec that is not planned yet). */
export interface MapNote {
  readonly message: string;
  readonly position: SourcePosition;
}

export interface MapResult {
  readonly columns: MappedColumn[];
  readonly errors: InvalidInputError[];
  readonly notes: MapNote[];
}

const SUPPORTED =
  "use string, number, boolean, Date, arrays, nested objects, Record<string, T>, string-literal unions, enums, or a helper type such as Int32, UInt64, Float32, Decimal<P, S>, DateTime64<P>, LowCardinality<string>, UUID";

/** Marker properties of helper types and what they mean. */
const MARKERS = {
  key: "_clickhouse_key",
  mappedType: "_clickhouse_mapped_type",
  precision: "_clickhouse_precision",
  scale: "_clickhouse_scale",
  lowCardinality: "_LowCardinality",
  defaultExpr: "_clickhouse_default",
  fixedStringSize: "_clickhouse_fixed_string_size",
  byteSize: "_clickhouse_byte_size",
  jsonSettings: "_clickhouse_json_settings",
  codec: "_clickhouse_codec",
  ttl: "_clickhouse_ttl",
  materialized: "_clickhouse_materialized",
  alias: "_clickhouse_alias",
  aggregationFunction: "_aggregationFunction",
  argTypes: "_argTypes",
  simpleAggregationFunction: "_simpleAggregationFunction",
  argType: "_argType",
  typia: "typia.tag",
} as const;
const MARKER_NAMES: ReadonlySet<string> = new Set(Object.values(MARKERS));

const TYPIA_NUMBER_TYPES: Readonly<Record<string, string>> = {
  int8: "Int8",
  uint8: "UInt8",
  int16: "Int16",
  uint16: "UInt16",
  int32: "Int32",
  int64: "Int64",
  uint32: "UInt32",
  uint64: "UInt64",
  float: "Float32",
  double: "Float64",
};

const TYPIA_STRING_FORMATS: Readonly<Record<string, string>> = {
  uuid: "UUID",
  "date-time": "DateTime64(9)",
  date: "Date32",
  ipv4: "IPv4",
  ipv6: "IPv6",
};

interface Modifiers {
  key: boolean;
  mappedType?: string;
  precision?: number;
  scale?: number;
  lowCardinality: boolean;
  defaultExpr?: string;
  typiaType?: string;
  typiaFormat?: string;
  fixedStringSize?: number;
  byteSize?: number;
  jsonSettings?: ts.Type;
  codec?: string;
  ttl?: string;
  materialized?: string;
  alias?: string;
  aggregationFunction?: string;
  argTypes?: ts.Type;
  simpleAggregationFunction?: string;
  argType?: ts.Type;
}

/**
 * A field's path for messages (`UserSchema.address.zip`), spelled out only when a
 * message needs it: naming the record type costs a `typeToString` per table.
 */
class FieldPath {
  private text: string | undefined;
  private constructor(private readonly make: () => string) {}
  static of(root: string | (() => string)): FieldPath {
    return new FieldPath(typeof root === "string" ? () => root : root);
  }
  child(suffix: string): FieldPath {
    return new FieldPath(() => `${this.toString()}${suffix}`);
  }
  toString(): string {
    return (this.text ??= this.make());
  }
}

/** A field's ClickHouse type, whether it is a `Key<>`, and its DEFAULT / MATERIALIZED / ALIAS, CODEC and TTL. */
interface MappedType {
  readonly type: string;
  readonly key: boolean;
  readonly defaultExpr?: string;
  readonly materialized?: string;
  readonly alias?: string;
  readonly codec?: string;
  readonly ttl?: string;
}

/** The column a field maps to (members left out when not declared, so maps compare cleanly). */
function columnOf(name: string, m: MappedType): Column {
  return {
    name,
    type: m.type,
    ...(m.defaultExpr === undefined ? {} : { default: m.defaultExpr }),
    ...(m.materialized === undefined ? {} : { materialized: m.materialized }),
    ...(m.alias === undefined ? {} : { alias: m.alias }),
    ...(m.codec === undefined ? {} : { codec: m.codec }),
    ...(m.ttl === undefined ? {} : { ttl: m.ttl }),
  };
}

/** Collects what one `columnsOf` call has to say besides errors. */
interface Context {
  readonly notes: MapNote[];
}

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How deep record types may nest inside each other (Tuple, Nested, Array of them). */
const MAX_NESTING = 32;

export class TypeMapper {
  constructor(private readonly checker: ts.TypeChecker) {}

  /** Columns of a record type, in declaration order (base interfaces first). */
  columnsOf(type: ts.Type, at: ts.Node, path: string | (() => string)): MapResult {
    const ctx: Context = { notes: [] };
    const { columns, errors } = this.columns(type, at, FieldPath.of(path), ctx);
    return { columns, errors, notes: ctx.notes };
  }

  private columns(type: ts.Type, at: ts.Node, path: FieldPath, ctx: Context): { columns: MappedColumn[]; errors: InvalidInputError[] } {
    const errors: InvalidInputError[] = [];
    const columns: MappedColumn[] = [];
    if (type.flags & ts.TypeFlags.Any) {
      errors.push(
        new InvalidInputError("UNSUPPORTED_TYPE", "the record type is `any`, so planning cannot know the table's columns", {
          position: positionOf(at),
          hint: "a type from a package that is not installed is `any` (drizzle's `typeof t.$inferSelect`, for one): install the package, or declare the record as an interface",
        }),
      );
      return { columns, errors };
    }
    if (!this.isRecordType(type)) {
      errors.push(
        new InvalidInputError("UNSUPPORTED_TYPE", `${path}: the schema must be an interface or object type, found \`${this.checker.typeToString(type)}\``, {
          position: positionOf(at),
          hint: "declare an interface, e.g. `interface UserSchema { id: string }`, and pass it as the type argument",
        }),
      );
      return { columns, errors };
    }
    for (const prop of this.orderedProperties(type)) {
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      const node = decl ?? at;
      const propPath = path.child(`.${prop.name}`);
      try {
        const propType = this.checker.getTypeOfSymbolAtLocation(prop, node);
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        const mapped = this.mapType(propType, node, propPath, optional, ctx);
        const oneOf = this.literalUnion(propType);
        columns.push({
          column: columnOf(prop.name, mapped),
          key: mapped.key,
          // Computed when asked: a position costs a scan of the line, and 30,000 columns rarely need one.
          get position() {
            return positionOf(node);
          },
          ...(oneOf === undefined ? {} : { oneOf }),
        });
      } catch (e) {
        if (e instanceof InvalidInputError) errors.push(e);
        else throw e;
      }
    }
    if (columns.length === 0 && errors.length === 0) {
      errors.push(
        new InvalidInputError("EMPTY_SCHEMA", `${path}: the schema has no fields; a table needs at least one column`, { position: positionOf(at) }),
      );
    }
    return { columns, errors };
  }

  /**
   * `"a" | "b"` (optional or nullable too), one literal, or an array of either: the
   * literals, sorted (a union's member order is the checker's, not the source's).
   */
  private literalUnion(type: ts.Type): string[] | undefined {
    let t = this.nonNullable(type);
    if (this.checker.isArrayType(t)) {
      const element = this.checker.getTypeArguments(t as ts.TypeReference)[0];
      if (element === undefined) return undefined;
      t = this.nonNullable(element);
    }
    const members = t.isUnion() ? t.types : [t];
    if (!members.every((m) => m.isStringLiteral() && !(m.flags & ts.TypeFlags.EnumLiteral))) return undefined;
    return [...new Set(members.map((m) => (m as ts.StringLiteralType).value))].sort();
  }

  private isRecordType(type: ts.Type): boolean {
    if (type.flags & ts.TypeFlags.Object) return !this.isDate(type) && this.checker.getSignaturesOfType(type, ts.SignatureKind.Call).length === 0;
    if (type.isIntersection()) return type.types.every((t) => (t.flags & ts.TypeFlags.Object) !== 0);
    return false;
  }

  /**
   * Columns in the order Moose creates them: TypeScript's `getPropertiesOfType`, which moose-lib's
   * compiler plugin reads, lists an interface's own members first and then the inherited ones
   * (`interface B extends A` gives B's fields, then A's), and an intersection's parts in order.
   * A table created before this order was followed keeps its columns where they are: the
   * planner does not move existing columns for order alone (see `keepColumnOrder`).
   */
  private orderedProperties(type: ts.Type): ts.Symbol[] {
    return this.checker.getPropertiesOfType(type).filter((s) => !(s.flags & ts.SymbolFlags.Method) && !MARKER_NAMES.has(s.name));
  }

  /**
   * Column types already mapped, per type and optionality: most apps use a handful of
   * field types thousands of times. Only mappings that raised nothing are kept, so
   * errors and notes still name every field they concern.
   */
  private readonly mapped = [new Map<ts.Type, MappedType>(), new Map<ts.Type, MappedType>()] as const;

  /** Types being mapped right now, outermost first: a type met again inside itself is a recursive type. */
  private readonly active = new Set<ts.Type>();

  private mapType(type: ts.Type, node: ts.Node, path: FieldPath, optional: boolean, ctx: Context): MappedType {
    const cache = this.mapped[optional ? 1 : 0];
    const known = cache.get(type);
    if (known) return known;
    // ClickHouse columns nest a finite number of times: a type that contains itself (directly, or through
    // generics that grow at every level) would recurse until the stack overflows.
    if (this.active.has(type) || this.active.size >= MAX_NESTING) {
      throw this.unsupported(
        node,
        path,
        this.active.has(type) ? `a recursive type (\`${this.checker.typeToString(type)}\` contains itself)` : `a type nested more than ${MAX_NESTING} levels deep`,
        "give the recursive part a fixed depth, or store it as JSON (a `Record<string, any>` field)",
      );
    }
    this.active.add(type);
    try {
      const notes = ctx.notes.length;
      const result = this.mapTypeUncached(type, node, path, optional, ctx);
      if (ctx.notes.length === notes) cache.set(type, result);
      return result;
    } finally {
      this.active.delete(type);
    }
  }

  private mapTypeUncached(type: ts.Type, node: ts.Node, path: FieldPath, optional: boolean, ctx: Context): MappedType {
    let nullable = optional;
    let t: ts.Type = type;
    let chType: string | undefined;
    if (t.isUnion()) {
      const rest = t.types.filter((u) => !(u.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void)));
      if (rest.length !== t.types.length) nullable = true;
      if (rest.length === 0) throw this.unsupported(node, path, "a field that is always null or undefined");
      if (rest.length === 1) t = rest[0]!;
      else chType = this.mapUnion(rest, node, path);
    }
    const mods = this.modifiers(t);
    // As moose-lib: one of DEFAULT, MATERIALIZED and ALIAS, and an ALIAS (never stored) is no key.
    const kinds = [["ClickHouseDefault", mods.defaultExpr], ["ClickHouseMaterialized", mods.materialized], ["ClickHouseAlias", mods.alias]].filter(([, v]) => v !== undefined);
    if (kinds.length > 1) {
      throw new InvalidInputError("INVALID_COLUMN", `${path}: a column has one of ClickHouseDefault, ClickHouseMaterialized and ClickHouseAlias, not ${kinds.map(([k]) => k).join(" and ")}`, {
        position: positionOf(node),
        hint: "keep the one that says how the value is computed",
      });
    }
    if (mods.alias !== undefined && mods.key) {
      throw new InvalidInputError("INVALID_COLUMN", `${path}: a ClickHouseAlias column is computed when read and cannot be a Key<>`, {
        position: positionOf(node),
        hint: "key the table by the columns the alias is computed from",
      });
    }
    let composite = false;
    if (mods.aggregationFunction !== undefined) {
      const args = mods.argTypes && this.checker.isTupleType(mods.argTypes) ? this.checker.getTypeArguments(mods.argTypes as ts.TypeReference) : [];
      const mapped = args.map((a, i) => this.mapType(a, node, path.child(`<arg ${i + 1}>`), false, ctx).type);
      chType = `AggregateFunction(${[mods.aggregationFunction, ...mapped].join(", ")})`;
      composite = true;
    } else if (mods.simpleAggregationFunction !== undefined) {
      const arg = mods.argType ? this.mapType(mods.argType, node, path.child("<arg>"), false, ctx).type : this.mapBase(this.baseOf(t), mods, node, path, ctx);
      chType = `SimpleAggregateFunction(${mods.simpleAggregationFunction}, ${arg})`;
      composite = true;
    }
    chType ??= this.mapBase(this.baseOf(t), mods, node, path, ctx);
    if (mods.lowCardinality && !chType.startsWith("LowCardinality(")) chType = `LowCardinality(${chType})`;
    if (nullable && !composite) {
      if (/^(Array|Map|Nested)\(/.test(chType)) {
        // ClickHouse cannot wrap composite types in Nullable; an absent value is stored as the empty one.
      } else if (chType.startsWith("Tuple(")) {
        throw this.unsupported(node, path, "an optional nested object (ClickHouse has no Nullable(Tuple))", "make the nested object required, or make its fields optional");
      } else if (chType.startsWith("LowCardinality(")) {
        chType = `LowCardinality(Nullable(${chType.slice("LowCardinality(".length, -1)}))`;
      } else {
        chType = `Nullable(${chType})`;
      }
    }
    return {
      type: chType,
      key: mods.key,
      ...(mods.defaultExpr === undefined ? {} : { defaultExpr: mods.defaultExpr }),
      ...(mods.materialized === undefined ? {} : { materialized: mods.materialized }),
      ...(mods.alias === undefined ? {} : { alias: mods.alias }),
      ...(mods.codec === undefined ? {} : { codec: mods.codec }),
      ...(mods.ttl === undefined ? {} : { ttl: mods.ttl }),
    };
  }

  private note(ctx: Context, node: ts.Node, message: string): void {
    ctx.notes.push({ message, position: positionOf(node) });
  }

  /** A union of several non-null members: booleans, string literals or the members of one enum. */
  private mapUnion(members: readonly ts.Type[], node: ts.Node, path: FieldPath): string {
    if (members.every((m) => m.flags & ts.TypeFlags.BooleanLiteral)) return "Bool";
    if (members.every((m) => m.flags & ts.TypeFlags.EnumLiteral)) return this.enumType(members, node, path);
    if (members.every((m) => m.isStringLiteral())) return "LowCardinality(String)";
    const text = members.map((m) => this.checker.typeToString(m)).join(" | ");
    throw this.unsupported(node, path, `the union \`${text}\``, "use a single type, a string-literal union, or an enum");
  }

  /** The primitive (or object) part of an intersection with marker objects. */
  private baseOf(type: ts.Type): ts.Type {
    if (!type.isIntersection()) return type;
    const parts = type.types.filter((p) => !this.isMarkerObject(p));
    if (parts.length === 1) return parts[0]!;
    if (parts.length === 0) return type;
    return type;
  }

  private isMarkerObject(type: ts.Type): boolean {
    if (!(type.flags & ts.TypeFlags.Object) || this.isDate(type)) return false;
    const props = this.checker.getPropertiesOfType(type);
    return props.length > 0 && props.every((p) => MARKER_NAMES.has(p.name));
  }

  private modifiers(type: ts.Type): Modifiers {
    const mods: Modifiers = { key: false, lowCardinality: false };
    const parts = type.isIntersection() ? type.types : [type];
    for (const part of parts) {
      if (!this.isMarkerObject(part)) continue;
      for (const prop of this.checker.getPropertiesOfType(part)) {
        const value = this.nonNullable(this.checker.getTypeOfSymbol(prop));
        const text = value.isStringLiteral() ? value.value : undefined;
        const num = value.isNumberLiteral() ? value.value : undefined;
        switch (prop.name) {
          case MARKERS.key:
            mods.key = true;
            break;
          case MARKERS.lowCardinality:
            mods.lowCardinality = true;
            break;
          case MARKERS.mappedType:
            if (text !== undefined) mods.mappedType = text;
            break;
          case MARKERS.precision:
            if (num !== undefined) mods.precision = num;
            break;
          case MARKERS.scale:
            if (num !== undefined) mods.scale = num;
            break;
          case MARKERS.defaultExpr:
            if (text !== undefined) mods.defaultExpr = text;
            break;
          case MARKERS.fixedStringSize:
            if (num !== undefined) mods.fixedStringSize = num;
            break;
          case MARKERS.byteSize:
            if (num !== undefined) mods.byteSize = num;
            break;
          case MARKERS.jsonSettings:
            mods.jsonSettings = value;
            break;
          case MARKERS.codec:
            if (text !== undefined) mods.codec = text;
            break;
          case MARKERS.ttl:
            if (text !== undefined) mods.ttl = text;
            break;
          case MARKERS.materialized:
            if (text !== undefined) mods.materialized = text;
            break;
          case MARKERS.alias:
            if (text !== undefined) mods.alias = text;
            break;
          case MARKERS.aggregationFunction:
            if (text !== undefined) mods.aggregationFunction = text;
            break;
          case MARKERS.argTypes:
            mods.argTypes = value;
            break;
          case MARKERS.simpleAggregationFunction:
            if (text !== undefined) mods.simpleAggregationFunction = text;
            break;
          case MARKERS.argType:
            mods.argType = value;
            break;
          case MARKERS.typia: {
            const kind = this.literalProp(value, "kind");
            const v = this.literalProp(value, "value");
            if (kind === "type" && typeof v === "string") mods.typiaType = v;
            if (kind === "format" && typeof v === "string") mods.typiaFormat = v;
            break;
          }
        }
      }
    }
    return mods;
  }

  private literalProp(type: ts.Type, name: string): string | number | undefined {
    const p = this.checker.getPropertyOfType(type, name);
    if (!p) return undefined;
    const t = this.nonNullable(this.checker.getTypeOfSymbol(p));
    return t.isStringLiteral() || t.isNumberLiteral() ? t.value : undefined;
  }

  private stringLiterals(type: ts.Type | undefined, name: string): string[] {
    const p = type && this.checker.getPropertyOfType(type, name);
    if (!p) return [];
    const t = this.nonNullable(this.checker.getTypeOfSymbol(p));
    if (!this.checker.isTupleType(t)) return [];
    return this.checker
      .getTypeArguments(t as ts.TypeReference)
      .filter((e): e is ts.StringLiteralType => e.isStringLiteral())
      .map((e) => e.value);
  }

  private nonNullable(type: ts.Type): ts.Type {
    return this.checker.getNonNullableType(type);
  }

  private isDate(type: ts.Type): boolean {
    const sym = type.getSymbol();
    return sym?.name === "Date" && (sym.declarations ?? []).some((d) => d.getSourceFile().hasNoDefaultLib);
  }

  /**
   * `JSON`, with moose-lib's settings and the fields of the object it is intersected with as
   * typed paths, in the order ClickHouse prints them (system.columns): max_dynamic_types,
   * max_dynamic_paths, typed paths by name, SKIP paths, SKIP REGEXPs, each group sorted.
   */
  private jsonType(base: ts.Type, mods: Modifiers, node: ts.Node, path: FieldPath, ctx: Context): string {
    const params: string[] = [];
    const maxTypes = mods.jsonSettings && this.literalProp(mods.jsonSettings, "maxDynamicTypes");
    const maxPaths = mods.jsonSettings && this.literalProp(mods.jsonSettings, "maxDynamicPaths");
    if (typeof maxTypes === "number") params.push(`max_dynamic_types=${maxTypes}`);
    if (typeof maxPaths === "number") params.push(`max_dynamic_paths=${maxPaths}`);
    if (base !== undefined && base.flags & ts.TypeFlags.Object && !this.isMarkerObject(base) && this.checker.getPropertiesOfType(base).length > 0) {
      const sub = this.columns(base, node, path, ctx);
      if (sub.errors.length > 0) throw sub.errors[0]!;
      const typed = sub.columns.map((c) => [c.column.name, c.column.type] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      params.push(...typed.map(([name, type]) => `${PLAIN_IDENTIFIER.test(name) ? name : quoteIdentifier(name)} ${type}`));
    }
    const skipPaths = this.stringLiterals(mods.jsonSettings, "skipPaths").sort();
    const skipRegexes = this.stringLiterals(mods.jsonSettings, "skipRegexes").sort();
    params.push(...skipPaths.map((p) => `SKIP ${PLAIN_IDENTIFIER.test(p) ? p : quoteIdentifier(p)}`));
    params.push(...skipRegexes.map((r) => `SKIP REGEXP ${quoteEnumLabel(r)}`));
    return params.length === 0 ? "JSON" : `JSON(${params.join(", ")})`;
  }

  private mapBase(type: ts.Type, mods: Modifiers, node: ts.Node, path: FieldPath, ctx: Context): string {
    const f = type.flags;
    if (mods.mappedType === "JSON") return this.jsonType(type, mods, node, path, ctx);
    if (mods.mappedType && mods.mappedType !== "namedTuple") return mods.mappedType;
    if (f & ts.TypeFlags.StringLike && !(f & ts.TypeFlags.EnumLiteral)) {
      if (mods.precision !== undefined && mods.scale !== undefined) return `Decimal(${mods.precision}, ${mods.scale})`;
      if (mods.fixedStringSize !== undefined) return `FixedString(${mods.fixedStringSize})`;
      if (mods.typiaFormat === "date-time" && mods.precision !== undefined) return `DateTime64(${mods.precision})`;
      // moose-lib: a two-byte date is ClickHouse's Date (Date16); the default is the wider Date32.
      if (mods.typiaFormat === "date" && mods.byteSize === 2) return "Date";
      if (mods.typiaFormat && TYPIA_STRING_FORMATS[mods.typiaFormat]) return TYPIA_STRING_FORMATS[mods.typiaFormat]!;
      if (type.isStringLiteral()) return "LowCardinality(String)";
      return "String";
    }
    if (f & ts.TypeFlags.NumberLike && !(f & ts.TypeFlags.EnumLiteral)) {
      if (mods.precision !== undefined && mods.scale !== undefined) return `Decimal(${mods.precision}, ${mods.scale})`;
      if (mods.typiaType) {
        const mapped = TYPIA_NUMBER_TYPES[mods.typiaType];
        if (!mapped) throw this.unsupported(node, path, `the typia type tag "${mods.typiaType}"`, `use one of ${Object.keys(TYPIA_NUMBER_TYPES).join(", ")}`);
        return mapped;
      }
      return "Float64";
    }
    if (f & ts.TypeFlags.BooleanLike) return "Bool";
    if (f & ts.TypeFlags.BigIntLike) return "Int64";
    if (this.isDate(type)) {
      if (mods.precision !== undefined) return `DateTime64(${mods.precision})`;
      return "DateTime('UTC')";
    }
    if (type.isUnion()) return this.mapUnion(type.types, node, path);
    if (f & ts.TypeFlags.EnumLiteral) return this.enumType([type], node, path);
    if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      // A name that resolves to nothing is `any`: a Node.js global (`Buffer`; planning reads no
      // @types package the app does not import) or a type of a package that is not installed.
      const written = ts.isPropertySignature(node) || ts.isPropertyDeclaration(node) ? node.type : node;
      // (The checker answers an unresolved name with a symbol of no declarations.)
      if (written && ts.isTypeReferenceNode(written) && !this.checker.getSymbolAtLocation(written.typeName)?.declarations?.length) {
        const name = written.typeName.getText();
        throw this.unsupported(node, path, `\`${name}\`, a name no declaration of the app or its imports defines,`, `planning reads the app and what it imports, not Node.js's global types or uninstalled packages: declare the field with a type it can store (string holds any bytes), or import \`${name}\` from an installed package`);
      }
      throw this.unsupported(node, path, f & ts.TypeFlags.Any ? "`any`" : "`unknown`");
    }
    if (f & ts.TypeFlags.ESSymbolLike) throw this.unsupported(node, path, "`symbol`");
    if (f & ts.TypeFlags.Never) throw this.unsupported(node, path, "`never`");
    if (f & ts.TypeFlags.NonPrimitive) throw this.unsupported(node, path, "`object`", "declare the fields of the object");
    if (f & ts.TypeFlags.Object) {
      if (this.checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0) throw this.unsupported(node, path, "a function type");
      if (this.checker.isArrayType(type)) {
        const el = this.checker.getTypeArguments(type as ts.TypeReference)[0];
        if (!el) throw this.unsupported(node, path, "an array without an element type");
        return `Array(${this.mapType(el, node, path.child("[]"), false, ctx).type})`;
      }
      if (this.checker.isTupleType(type)) {
        const els = this.checker.getTypeArguments(type as ts.TypeReference);
        return `Tuple(${els.map((e, i) => this.mapType(e, node, path.child(`[${i}]`), false, ctx).type).join(", ")})`;
      }
      const index = this.checker.getIndexInfosOfType(type);
      if (index.length > 0 && this.checker.getPropertiesOfType(type).length === 0) {
        const info = index[0]!;
        if (info.type.flags & ts.TypeFlags.Any) return "JSON";
        const key = info.keyType.flags & ts.TypeFlags.NumberLike ? "Float64" : "String";
        return `Map(${key}, ${this.mapType(info.type, node, path.child("[key]"), false, ctx).type})`;
      }
      const sub = this.columns(type, node, path, ctx);
      if (sub.errors.length > 0) throw sub.errors[0]!;
      const fields = sub.columns.map((c) => `${c.column.name} ${c.column.type}`).join(", ");
      return mods.mappedType === "namedTuple" ? `Tuple(${fields})` : `Nested(${fields})`;
    }
    throw this.unsupported(node, path, `\`${this.checker.typeToString(type)}\``);
  }

  private enumType(members: readonly ts.Type[], node: ts.Node, path: FieldPath): string {
    const entries: Array<[string, number]> = [];
    let next = 1;
    for (const m of members) {
      const sym = m.getSymbol();
      const name = sym?.name ?? "";
      if (m.isStringLiteral()) entries.push([m.value, next++]);
      else if (m.isNumberLiteral()) entries.push([name, m.value]);
      else throw this.unsupported(node, path, `the enum member \`${this.checker.typeToString(m)}\``);
    }
    const max = Math.max(...entries.map(([, v]) => Math.abs(v)));
    const width = max <= 127 ? "Enum8" : "Enum16";
    return `${width}(${entries.map(([label, v]) => `${quoteEnumLabel(label)} = ${v}`).join(", ")})`;
  }

  private unsupported(node: ts.Node, path: FieldPath, what: string, hint = SUPPORTED): InvalidInputError {
    return new InvalidInputError("UNSUPPORTED_TYPE", `${path}: ${what} cannot be stored in a ClickHouse column`, { position: positionOf(node), hint });
  }
}



/** Enum labels are ClickHouse string literals: backslash and quote escaped. */
export function quoteEnumLabel(label: string): string {
  return "'" + label.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}
