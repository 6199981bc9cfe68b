import ts from "./typescript.cjs";
import { InvalidInputError, type SourcePosition } from "../errors.js";

/**
 * A value read from source without running it: literals, arrays, objects,
 * references to declared infrastructure objects, and `sql` templates resolved to
 * text.
 */
export type StaticValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly StaticValue[]
  | StaticObject
  | ObjectRef
  | ColumnRefValue
  | SqlValue
  | RuntimeEnvValue
  | OpaqueValue;

/**
 * moose-lib's `mooseRuntimeEnv.get("NAME")`: a value the environment gives when a statement is
 * sent; while planning, only the variable's name (options that take one keep it as a reference).
 */
export interface RuntimeEnvValue {
  readonly kind: "runtimeEnv";
  readonly name: string;
  readonly node: ts.Node;
}

export function isRuntimeEnvValue(v: StaticValue): v is RuntimeEnvValue {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { kind?: string }).kind === "runtimeEnv";
}

export interface StaticObject {
  readonly kind: "object";
  readonly entries: ReadonlyMap<string, StaticValue>;
  readonly node: ts.Node;
}

/**
 * The expression declaring an object: `new OlapTable<T>(...)`, or a moose-lib factory
 * call such as `OlapTable.withMergeTree<T>(...)`.
 */
export type DeclarationNode = ts.NewExpression | ts.CallExpression;

/** A reference to a declared object (`destination: usersTable`), or one of its members (`pipeline.table`). */
export interface ObjectRef {
  readonly kind: "ref";
  readonly target: DeclarationNode;
  /** Member path from the declared object, e.g. `["table"]` for `pipeline.table`. */
  readonly member: readonly string[];
}

export interface ColumnRefValue {
  readonly kind: "column";
  readonly owner: ObjectRef;
  readonly column: string;
}

export interface SqlValue {
  readonly kind: "sql";
  /** Text pieces and interpolations, resolved later against the declared objects. */
  readonly parts: ReadonlyArray<string | ObjectRef | ColumnRefValue | number>;
}

/** Something that has no static value but may legitimately appear (a handler function). */
export interface OpaqueValue {
  readonly kind: "opaque";
  readonly node: ts.Node;
}

export function isObjectValue(v: StaticValue): v is StaticObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { kind?: string }).kind === "object";
}
export function isSqlValue(v: StaticValue): v is SqlValue {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { kind?: string }).kind === "sql";
}
export function isRef(v: StaticValue): v is ObjectRef {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { kind?: string }).kind === "ref";
}

export function positionOf(node: ts.Node): SourcePosition {
  const sf = node.getSourceFile();
  const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return { file: sf.fileName, line: line + 1, column: character + 1 };
}

export function notStatic(node: ts.Node, what: string, hint: string): InvalidInputError {
  return new InvalidInputError("NOT_STATIC", `${what} cannot be read without running the app: \`${shorten(node.getText())}\``, {
    position: positionOf(node),
    hint,
  });
}

function shorten(text: string): string {
  const one = text.replace(/\s+/g, " ");
  return one.length > 60 ? one.slice(0, 57) + "..." : one;
}

/** Members of declared objects that refer to other declared objects (or their columns). */
const STRUCTURAL_MEMBERS: ReadonlySet<string> = new Set(["columns", "table", "stream", "deadLetterQueue", "targetTable"]);

/** `(x)`, `x as T`, `x satisfies T`, `x!`, `<T>x`: the expression inside. */
function skipOuter(expr: ts.Expression): ts.Expression {
  let e = expr;
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

const HINT =
  "write it as a literal (string, number, boolean, array or object literal), a `const` holding one, or an enum member";

/**
 * Evaluates expressions statically. `isDeclaration` tells whether a `new X()`
 * expression declares infrastructure (so identifiers bound to it become refs).
 */
/** moose-lib's registry getters: `getTable("Customer")` is the object declared under that name. */
export const REGISTRY_GETTERS: ReadonlySet<string> = new Set([
  "getTable",
  "getStream",
  "getIngestApi",
  "getApi",
  "getMaterializedView",
  "getView",
  "getSqlResource",
  "getWorkflow",
  "getWebApp",
]);

/** Finds the declaration a registry getter names; undefined when nothing of that kind has that name. */
export type RegistryLookup = (getter: string, name: string) => ObjectRef | undefined;

export class StaticEvaluator {
  private readonly active = new Set<ts.Node>();
  /** Set by the extractor once every declaration's name is known. */
  registry: RegistryLookup | undefined;

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly isDeclaration: (node: DeclarationNode) => boolean,
  ) {}

  evaluate(expr: ts.Expression, what: string): StaticValue {
    if (this.active.has(expr)) throw notStatic(expr, what, "a value may not refer to itself");
    this.active.add(expr);
    try {
      return this.evaluateInner(expr, what);
    } finally {
      this.active.delete(expr);
    }
  }

  private evaluateInner(expr: ts.Expression, what: string): StaticValue {
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isSatisfiesExpression(expr) || ts.isNonNullExpression(expr) || ts.isTypeAssertionExpression(expr)) {
      return this.evaluate(expr.expression, what);
    }
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return expr.text;
    if (ts.isNumericLiteral(expr)) return Number(expr.text);
    if (expr.kind === ts.SyntaxKind.TrueKeyword) return true;
    if (expr.kind === ts.SyntaxKind.FalseKeyword) return false;
    if (expr.kind === ts.SyntaxKind.NullKeyword) return null;
    if (ts.isPrefixUnaryExpression(expr) && expr.operator === ts.SyntaxKind.MinusToken) {
      const v = this.evaluate(expr.operand, what);
      if (typeof v === "number") return -v;
    }
    if (ts.isArrayLiteralExpression(expr)) {
      const out: StaticValue[] = [];
      for (const el of expr.elements) {
        if (ts.isSpreadElement(el)) {
          const v = this.evaluate(el.expression, what);
          if (!Array.isArray(v)) throw notStatic(el, what, HINT);
          out.push(...(v as StaticValue[]));
        } else {
          out.push(this.evaluate(el, what));
        }
      }
      return out;
    }
    if (ts.isObjectLiteralExpression(expr)) return this.evaluateObject(expr, what);
    if (ts.isTemplateExpression(expr)) {
      let text = expr.head.text;
      for (const span of expr.templateSpans) {
        const v = this.evaluate(span.expression, what);
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") throw notStatic(span.expression, what, HINT);
        text += String(v) + span.literal.text;
      }
      return text;
    }
    if (ts.isTaggedTemplateExpression(expr)) return this.evaluateSql(expr, what);
    if ((ts.isNewExpression(expr) || ts.isCallExpression(expr)) && this.isDeclaration(expr)) return { kind: "ref", target: expr, member: [] };
    if (ts.isArrowFunction(expr) || ts.isFunctionExpression(expr)) return { kind: "opaque", node: expr };
    if (ts.isCallExpression(expr) && ts.isIdentifier(expr.expression) && REGISTRY_GETTERS.has(expr.expression.text) && expr.arguments.length === 1) {
      return this.registryValue(expr, expr.expression.text, what);
    }
    // moose-lib's `mooseRuntimeEnv.get("NAME")` (`mooseEnvSecrets` is its old name): a value the environment
    // gives when the object is created; while planning only its name (options that take none refuse it by name).
    if (
      ts.isCallExpression(expr) &&
      ts.isPropertyAccessExpression(expr.expression) &&
      expr.expression.name.text === "get" &&
      ts.isIdentifier(expr.expression.expression) &&
      (expr.expression.expression.text === "mooseRuntimeEnv" || expr.expression.expression.text === "mooseEnvSecrets")
    ) {
      const arg = expr.arguments[0];
      const name = arg === undefined || expr.arguments.length !== 1 ? undefined : this.evaluate(arg, what);
      if (typeof name !== "string") throw notStatic(arg ?? expr, what, 'pass mooseRuntimeEnv.get the variable\'s name as a string literal, e.g. mooseRuntimeEnv.get("AWS_SECRET_ACCESS_KEY")');
      return { kind: "runtimeEnv", name, node: expr };
    }

    if (ts.isIdentifier(expr)) {
      if (expr.text === "undefined") return undefined;
      const init = this.constInitializer(expr);
      if (init) return this.evaluate(init, what);
    }
    if (ts.isPropertyAccessExpression(expr)) {
      const member = this.declarationMember(expr, what);
      if (member) return member;
      const constant = this.checker.getConstantValue(expr);
      if (constant !== undefined) return constant;
      const literal = this.literalType(expr);
      if (literal !== undefined) return literal;
      const owner = this.evaluate(expr.expression, what);
      if (isRef(owner)) {
        // `table.columns.x`, `pipeline.table.columns.x`, `mv.targetTable.columns.x`
        if (owner.member[owner.member.length - 1] === "columns") {
          return { kind: "column", owner: { ...owner, member: owner.member.slice(0, -1) }, column: expr.name.text };
        }
        return { kind: "ref", target: owner.target, member: [...owner.member, expr.name.text] };
      }
      if (isObjectValue(owner) && owner.entries.has(expr.name.text)) return owner.entries.get(expr.name.text);
    }
    if (ts.isElementAccessExpression(expr)) {
      const constant = this.checker.getConstantValue(expr);
      if (constant !== undefined) return constant;
      const key = this.evaluate(expr.argumentExpression, what);
      const owner = typeof key === "string" ? this.evaluate(expr.expression, what) : undefined;
      if (typeof key === "string" && isRef(owner) && owner.member[owner.member.length - 1] === "columns") {
        return { kind: "column", owner: { ...owner, member: owner.member.slice(0, -1) }, column: key };
      }
      if (typeof key === "string" && isObjectValue(owner) && owner.entries.has(key)) return owner.entries.get(key);
    }
    // Last resort: the checker may know a literal type (e.g. a `const` imported from a .d.ts).
    const literal = this.literalType(expr);
    if (literal !== undefined) return literal;
    throw notStatic(expr, what, HINT);
  }

  /**
   * `getTable("Customer")` and moose-lib's other registry getters: the object declared under
   * that name, resolved while planning as the registry resolves it at run time.
   */
  private registryValue(expr: ts.CallExpression, getter: string, what: string): ObjectRef {
    const name = this.evaluate(expr.arguments[0] as ts.Expression, what);
    if (typeof name !== "string") throw notStatic(expr.arguments[0] as ts.Expression, what, `pass ${getter} the object's name as a string literal`);
    const found = this.registry?.(getter, name);
    if (found) return found;
    const kind = getter.slice(3).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
    throw new InvalidInputError("UNKNOWN_REFERENCE", `${getter}(${JSON.stringify(name)}) names no declared ${kind}`, {
      position: positionOf(expr),
      hint: `declare the ${kind} ${JSON.stringify(name)} in a module the main file imports (or correct the name)`,
    });
  }

  /**
   * `table.columns.x`, `pipeline.table`, `mv.targetTable.columns.x`: the members of a
   * declared object that the reader understands, read from the syntax alone. Their
   * declared types are never literals, so the checker has nothing to add; asking it
   * (`getConstantValue`) would make it check the object's whole declaration, its
   * config against the library's types, which a re-extraction otherwise skips for
   * files that did not change.
   */
  private declarationMember(expr: ts.PropertyAccessExpression, what: string): ObjectRef | ColumnRefValue | undefined {
    const name = expr.name.text;
    const inner = expr.expression;
    const ownerIsColumns = ts.isPropertyAccessExpression(inner) && inner.name.text === "columns";
    if (!ownerIsColumns && !STRUCTURAL_MEMBERS.has(name)) return undefined;
    if (!ts.isIdentifier(inner) && !ts.isPropertyAccessExpression(inner)) return undefined;
    const owner = ts.isIdentifier(inner) ? this.declarationOf(inner) : this.declarationMember(inner, what);
    if (!owner || owner.kind !== "ref") return undefined;
    if (name === "columns") return { kind: "ref", target: owner.target, member: [...owner.member, name] };
    if (owner.member[owner.member.length - 1] === "columns") return { kind: "column", owner: { ...owner, member: owner.member.slice(0, -1) }, column: name };
    return { kind: "ref", target: owner.target, member: [...owner.member, name] };
  }

  /** The declared object a `const` identifier holds, if it holds one. */
  private declarationOf(id: ts.Identifier): ObjectRef | undefined {
    const init = this.constInitializer(id);
    const inner = init && skipOuter(init);
    return inner && (ts.isNewExpression(inner) || ts.isCallExpression(inner)) && this.isDeclaration(inner) ? { kind: "ref", target: inner, member: [] } : undefined;
  }

  private literalType(expr: ts.Expression): string | number | boolean | undefined {
    const type = this.checker.getTypeAtLocation(expr);
    if (type.isStringLiteral() || type.isNumberLiteral()) return type.value;
    if (type.flags & ts.TypeFlags.BooleanLiteral) return this.checker.typeToString(type) === "true";
    return undefined;
  }

  private evaluateObject(expr: ts.ObjectLiteralExpression, what: string): StaticObject {
    const entries = new Map<string, StaticValue>();
    for (const prop of expr.properties) {
      if (ts.isPropertyAssignment(prop)) {
        const key = this.propertyKey(prop.name, what);
        entries.set(key, this.evaluate(prop.initializer, `${what}.${key}`));
      } else if (ts.isShorthandPropertyAssignment(prop)) {
        entries.set(prop.name.text, this.evaluate(prop.name, `${what}.${prop.name.text}`));
      } else if (ts.isSpreadAssignment(prop)) {
        const v = this.evaluate(prop.expression, what);
        if (!isObjectValue(v)) throw notStatic(prop, what, HINT);
        for (const [k, val] of v.entries) entries.set(k, val);
      } else if (ts.isMethodDeclaration(prop)) {
        entries.set(this.propertyKey(prop.name, what), { kind: "opaque", node: prop });
      } else {
        throw notStatic(prop, what, HINT);
      }
    }
    return { kind: "object", entries, node: expr };
  }

  private propertyKey(name: ts.PropertyName, what: string): string {
    if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isPrivateIdentifier(name)) return name.text;
    if (ts.isComputedPropertyName(name)) {
      const v = this.evaluate(name.expression, what);
      if (typeof v === "string" || typeof v === "number") return String(v);
    }
    throw notStatic(name, what, HINT);
  }

  /** `sql\`...\`` with interpolated tables, columns and numbers. */
  private evaluateSql(expr: ts.TaggedTemplateExpression, what: string): SqlValue {
    const parts: Array<string | ObjectRef | ColumnRefValue | number> = [];
    const tpl = expr.template;
    if (ts.isNoSubstitutionTemplateLiteral(tpl)) return { kind: "sql", parts: [tpl.text] };
    parts.push(tpl.head.text);
    for (const span of tpl.templateSpans) {
      const v = this.evaluate(span.expression, what);
      if (typeof v === "number" || typeof v === "string") parts.push(v);
      else if (isSqlValue(v)) parts.push(...v.parts);
      else if (isRef(v) || (typeof v === "object" && v !== null && (v as { kind?: string }).kind === "column")) {
        parts.push(v as ObjectRef | ColumnRefValue);
      } else {
        throw notStatic(span.expression, what, "interpolate only tables, views, `table.columns.x` columns and literal numbers in a sql template");
      }
      parts.push(span.literal.text);
    }
    return { kind: "sql", parts };
  }

  /** The initializer of the `const` an identifier names, if it is one. */
  private constInitializer(id: ts.Identifier): ts.Expression | undefined {
    let symbol = this.checker.getSymbolAtLocation(id);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    const decl = symbol?.valueDeclaration;
    if (!decl || !ts.isVariableDeclaration(decl) || !decl.initializer) return undefined;
    const list = decl.parent;
    if (!ts.isVariableDeclarationList(list) || !(list.flags & ts.NodeFlags.Const)) return undefined;
    if (decl.getSourceFile().isDeclarationFile) return undefined;
    return decl.initializer;
  }
}
