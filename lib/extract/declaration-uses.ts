import { sha256 } from "./extraction-cache.js";
import ts from "./typescript.cjs";

/**
 * What one app file takes from another by name, as the extraction cache checks it: a file that
 * imports `{ users }` from `./models` depends on the text of `users`' declaration and of every
 * declaration of `./models` it refers to (its record interface, the aliases that one uses), not
 * on the rest of `./models`. A view file that imports one table of a model file then need not be
 * read again when another table of that file gets a column.
 *
 * The dependency is syntactic and over-approximated: the statements declaring the names, then
 * every top-level statement declaring an identifier that any included statement mentions (a
 * property name counts too), until nothing is added; every statement that declares no name (the
 * file's imports, expression statements, `declare global`) is always included. The hash covers
 * those statements' text, comments included. TypeScript gives a declaration the same meaning when
 * its text, the text of what it refers to in its file, where the file's imports resolve and the
 * files they import are the same: the cache checks the last two itself (`consulted`,
 * `resolutions`).
 *
 * A file whose names are not all declared by its own exported statements (re-exports, `export {}`
 * lists, default exports), and an importer that takes the module whole (a namespace, default or
 * side-effect import, `import()` types, `export *`), get no such narrowing: the whole file counts.
 */

interface Statements {
  /** Indexes of the statements that declare each top-level name. */
  readonly declaring: ReadonlyMap<string, readonly number[]>;
  /** Names declared by statements carrying `export`. */
  readonly exported: ReadonlySet<string>;
  /** Per statement, the identifiers it mentions. */
  readonly mentions: ReadonlyArray<ReadonlySet<string>>;
  /** Statements that declare no name (always part of every closure). */
  readonly always: readonly number[];
  /** The file re-exports or has an export list or a default export: names may come from elsewhere. */
  readonly opaque: boolean;
}

const indexes = new WeakMap<ts.SourceFile, Statements>();

function index(sf: ts.SourceFile): Statements {
  const known = indexes.get(sf);
  if (known) return known;
  const declaring = new Map<string, number[]>();
  const exported = new Set<string>();
  const mentions: Array<Set<string>> = [];
  const always: number[] = [];
  let opaque = false;
  sf.statements.forEach((s, i) => {
    const seen = new Set<string>();
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node)) seen.add(node.text);
      ts.forEachChild(node, visit);
    };
    visit(s);
    mentions.push(seen);
    if (ts.isExportDeclaration(s) || ts.isExportAssignment(s)) opaque = true;
    const modifiers = ts.canHaveModifiers(s) ? (ts.getModifiers(s) ?? []) : [];
    if (modifiers.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) opaque = true;
    const names = declaredNames(s);
    if (names.length === 0) {
      always.push(i);
      return;
    }
    const isExported = modifiers.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    for (const n of names) {
      let list = declaring.get(n);
      if (!list) declaring.set(n, (list = []));
      list.push(i);
      if (isExported) exported.add(n);
    }
  });
  const result: Statements = { declaring, exported, mentions, always, opaque };
  indexes.set(sf, result);
  return result;
}

/** The names a top-level statement declares (none: a statement every closure includes). */
function declaredNames(s: ts.Statement): string[] {
  if (ts.isVariableStatement(s)) {
    const out: string[] = [];
    const bind = (name: ts.BindingName): void => {
      if (ts.isIdentifier(name)) out.push(name.text);
      else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
    };
    for (const d of s.declarationList.declarations) bind(d.name);
    return out;
  }
  if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) return s.name ? [s.name.text] : [];
  if (ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) return [s.name.text];
  // `declare global { … }` is named by an identifier too, but declares nothing of this file: always included.
  if (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name) && (s.flags & ts.NodeFlags.GlobalAugmentation) === 0) return [s.name.text];
  return [];
}

/**
 * The hash of what `names` of `sf` stand on in `sf` (see above); undefined when the file does
 * not declare them all itself, exported, or may take them from elsewhere.
 */
export function declarationsHash(sf: ts.SourceFile, names: readonly string[]): string | undefined {
  const ix = index(sf);
  if (ix.opaque || names.some((n) => !ix.exported.has(n))) return undefined;
  const included = new Set<number>();
  const pending: string[] = [];
  const include = (i: number) => {
    if (included.has(i)) return;
    included.add(i);
    for (const m of ix.mentions[i]!) pending.push(m);
  };
  for (const i of ix.always) include(i);
  pending.push(...names);
  const done = new Set<string>();
  while (pending.length > 0) {
    const n = pending.pop()!;
    if (done.has(n)) continue;
    done.add(n);
    for (const i of ix.declaring.get(n) ?? []) include(i);
  }
  const texts = [...included].sort((a, b) => a - b).map((i) => sf.text.slice(sf.statements[i]!.pos, sf.statements[i]!.end));
  return sha256(JSON.stringify([[...names].sort(), texts]));
}

/**
 * The names `importer` takes from the module that `target` is, when it takes it only through
 * named imports or named re-exports (`import { a, type B, c as d }`, `export { a } from`); undefined
 * when any other form reaches it. `resolve` gives where a module specifier of `importer` went.
 */
export function namedImports(importer: ts.SourceFile, target: string, specifiers: readonly ts.Expression[], resolve: (specifier: ts.StringLiteralLike) => string | undefined): string[] | undefined {
  const names = new Set<string>();
  let any = false;
  for (const spec of specifiers) {
    if (!ts.isStringLiteralLike(spec) || resolve(spec) !== target) continue;
    any = true;
    const parent = spec.parent as ts.Node | undefined;
    if (parent && ts.isImportDeclaration(parent) && parent.moduleSpecifier === spec) {
      const clause = parent.importClause;
      if (!clause || clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) return undefined;
      for (const e of clause.namedBindings.elements) names.add((e.propertyName ?? e.name).text);
    } else if (parent && ts.isExportDeclaration(parent) && parent.moduleSpecifier === spec) {
      if (!parent.exportClause || !ts.isNamedExports(parent.exportClause)) return undefined;
      for (const e of parent.exportClause.elements) names.add((e.propertyName ?? e.name).text);
    } else {
      return undefined;
    }
  }
  // A `/// <reference path>` or a resolution the specifiers do not show: the whole file counts.
  if (!any || names.size === 0) return undefined;
  return [...names].sort();
}
