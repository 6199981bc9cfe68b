import ts from "./typescript.cjs";

/** Per app file: the file and every file it imports, directly or not, sorted by name. */
export type Closures = ReadonlyMap<ts.SourceFile, readonly ts.SourceFile[]>;

/**
 * Which of an app's files can keep what was computed for them last time.
 *
 * A file's diagnostics, the declarations found in it and the columns of its
 * records depend only on the file itself and on what it imports, directly or
 * not (plus global declarations). `AppProgram` hands out the same `SourceFile`
 * object for a file that did not change on disk, so a file whose import closure
 * is the same list of objects as in the previous Program gets exactly the same
 * answers from a new type checker: its results may be reused. This is what
 * makes a save in `moose dev` cost the edited file and its importers, not the app.
 */
export class ImportClosures {
  private readonly closures = new WeakMap<ts.Program, Map<ts.SourceFile, readonly ts.SourceFile[]>>();

  constructor(
    /** Whether a file may change between Programs (TypeScript's lib files, node_modules and this library's declarations never do). */
    private readonly mayChange: (sf: ts.SourceFile) => boolean,
  ) {}

  /** The files of `program` whose import closure is identical to theirs in `before` (from {@link of}). */
  unchanged(before: Closures, program: ts.Program): Set<ts.SourceFile> {
    const now = this.of(program);
    const same = new Set<ts.SourceFile>();
    for (const sf of now.keys()) {
      const a = before.get(sf);
      const b = now.get(sf);
      if (a && b && a.length === b.length && a.every((f, i) => f === b[i])) same.add(sf);
    }
    return same;
  }

  /** The import closure (itself and global scripts included, sorted by file name) of every file that may change. */
  of(program: ts.Program): Closures {
    const known = this.closures.get(program);
    if (known) return known;
    const all = program.getSourceFiles();
    const files = all.filter(this.mayChange);
    const direct = new Map<ts.SourceFile, ts.SourceFile[]>();
    // Scripts (an app's global .d.ts too) and files with `declare global` / `declare module "x"`
    // can change any file's types.
    const global = all.filter((sf) => !ts.isExternalModule(sf) || sf.statements.some(isAugmentation));
    for (const sf of files) {
      // Files outside the app (this library, node_modules) never change while the process
      // lives, but one can appear where an import did not resolve before: it is part of the closure.
      direct.set(sf, directImports(program, sf));
    }
    const out = new Map<ts.SourceFile, readonly ts.SourceFile[]>();
    for (const sf of files) {
      const seen = new Set<ts.SourceFile>([sf, ...global]);
      const queue = [...seen];
      for (let i = 0; i < queue.length; i++) {
        for (const d of direct.get(queue[i]!) ?? []) {
          if (!seen.has(d)) {
            seen.add(d);
            queue.push(d);
          }
        }
      }
      out.set(sf, [...seen].sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0)));
    }
    this.closures.set(program, out);
    return out;
  }
}

/** The files `sf` imports directly (its module specifiers that resolve). */
export function directImports(program: ts.Program, sf: ts.SourceFile): ts.SourceFile[] {
  const checker = program.getTypeChecker();
  const out = new Set<ts.SourceFile>();
  for (const specifier of moduleSpecifiers(sf)) {
    const decl = checker.getSymbolAtLocation(specifier)?.declarations?.[0];
    const target = decl && (ts.isSourceFile(decl) ? decl : decl.getSourceFile());
    if (target && target !== sf) out.add(target);
  }
  return [...out];
}

function isAugmentation(statement: ts.Statement): boolean {
  return ts.isModuleDeclaration(statement) && (Boolean(statement.flags & ts.NodeFlags.GlobalAugmentation) || ts.isStringLiteral(statement.name));
}

const specifierCache = new WeakMap<ts.SourceFile, readonly ts.Expression[]>();
/** `import(` or `require(` anywhere in the text: then nested nodes must be searched too. */
const NESTED_IMPORT = /\b(?:import|require)\s*\(/;

/**
 * Every module specifier of a file: import and export declarations, `import x =
 * require()`, and (only when the text has any) `import("x")` types and calls and
 * `require("x")` calls.
 */
export function moduleSpecifiers(sf: ts.SourceFile): readonly ts.Expression[] {
  const cached = specifierCache.get(sf);
  if (cached) return cached;
  const out: ts.Expression[] = [];
  const add = (e: ts.Expression | undefined) => {
    if (e && ts.isStringLiteralLike(e)) out.push(e);
  };
  for (const s of sf.statements) {
    if (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) add(s.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(s) && ts.isExternalModuleReference(s.moduleReference)) add(s.moduleReference.expression);
  }
  if (NESTED_IMPORT.test(sf.text)) {
    const visit = (node: ts.Node): void => {
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal as ts.Expression);
      else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) add(node.arguments[0]);
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  specifierCache.set(sf, out);
  return out;
}
