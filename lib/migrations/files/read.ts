import { readFileSync, readdirSync } from "node:fs";
import { fileSystemError } from "../../fs-errors.js";
import { join } from "node:path";
import ts from "../../extract/typescript.cjs";
import { InvalidInputError, InvalidInputErrors, type SourcePosition } from "../../errors.js";
import { STEP_OPS, type Step, type StepOp } from "./api.js";
import { checksumOf } from "../../ledger/checksum.js";

/**
 * `moose dev` keeps the net change since the last applied migration in one
 * rolling draft, `migrations/.draft.ts`, recorded in the ledger as `.draft`.
 * Hidden, so it is never part of the committed sequence.
 */
export const DRAFT_ID = ".draft";
export const DRAFT_FILE = ".draft.ts";

/** `20261126031500_add_age_to_users.ts` */
export const MIGRATION_FILE = /^(\d{14})_([a-z0-9_]+)\.ts$/;

export interface LocatedStep {
  readonly step: Step;
  readonly origin: SourcePosition;
}

/** A migration file as read from disk, without running it. */
export interface MigrationFile {
  /** File name without `.ts`, e.g. `20261126031500_add_age_to_users`. */
  readonly id: string;
  readonly fileName: string;
  readonly path: string;
  /** The path as shown to the user (relative to the project). */
  readonly displayPath: string;
  readonly checksum: string;
  readonly checksumAlgorithm: string;
  readonly parent: string;
  readonly result: string;
  readonly up: readonly LocatedStep[];
  readonly down: readonly LocatedStep[] | null;
}

const OPS: ReadonlySet<string> = new Set(STEP_OPS);

/**
 * Reads every migration file of a folder, in id (timestamp) order. A `.ts`
 * file whose name does not follow `<yyyyMMddHHmmss>_<slug>.ts` is an error, so
 * a misnamed file is never silently skipped. With `only`, just the files of those
 * names are parsed (names are still checked for every file).
 */
export function readMigrations(dir: string, displayDir = dir, only?: ReadonlySet<string>): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fileSystemError(e, displayDir, "the migrations folder") ?? e;
  }
  const errors: InvalidInputError[] = [];
  const files: MigrationFile[] = [];
  for (const name of names.sort()) {
    // Hidden files (the dev draft `.draft.ts`) are not part of the committed sequence.
    if (!name.endsWith(".ts") || name.startsWith(".")) continue;
    if (!MIGRATION_FILE.test(name)) {
      errors.push(
        new InvalidInputError("MIGRATION_NAME_INVALID", `${join(displayDir, name)} is not named like a migration (<yyyyMMddHHmmss>_<slug>.ts)`, {
          hint: "rename it, or move it out of the migrations folder",
        }),
      );
      continue;
    }
    if (only !== undefined && !only.has(name)) continue;
    try {
      files.push(readMigrationText(readFileSync(join(dir, name), "utf8"), name, join(dir, name), join(displayDir, name)));
    } catch (e) {
      const fsError = fileSystemError(e, join(displayDir, name), "migration file");
      if (fsError) errors.push(fsError);
      else if (e instanceof InvalidInputErrors) errors.push(...(e.errors as InvalidInputError[]));
      else if (e instanceof InvalidInputError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length > 0) throw new InvalidInputErrors(errors);
  return files;
}

/** Parses one migration file's text. */
export function readMigrationText(text: string, fileName: string, path: string, display = path): MigrationFile {
  const sf = ts.createSourceFile(display, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const syntax = (sf as unknown as { parseDiagnostics?: readonly ts.Diagnostic[] }).parseDiagnostics ?? [];
  if (syntax.length > 0) {
    throw new InvalidInputErrors(
      syntax.map((d) => new InvalidInputError("MIGRATION_SYNTAX", ts.flattenDiagnosticMessageText(d.messageText, "\n"), { position: pos(sf, d.start ?? 0) })),
    );
  }
  const exported = sf.statements.find((s): s is ts.ExportAssignment => ts.isExportAssignment(s) && !s.isExportEquals);
  const call = exported?.expression;
  if (!call || !ts.isCallExpression(call) || !ts.isIdentifier(call.expression) || call.expression.text !== "migration" || !call.arguments[0] || !ts.isObjectLiteralExpression(call.arguments[0])) {
    throw new InvalidInputError("MIGRATION_SHAPE", "a migration file must end in `export default migration({ parent, result, up: [...], down: [...] })`", {
      position: pos(sf, (exported ?? sf).getStart(sf)),
    });
  }
  const props = new Map<string, ts.Expression>();
  for (const p of call.arguments[0].properties) {
    if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) throw literalOnly(sf, p);
    props.set(p.name.text, p.initializer);
  }
  const hash = (key: string): string => {
    const e = props.get(key);
    const v = e === undefined ? undefined : literal(sf, e);
    if (typeof v !== "string" || !/^sha256:[0-9a-f]{64}$/.test(v)) {
      throw new InvalidInputError("MIGRATION_SHAPE", `\`${key}\` must be the state hash "sha256:<64 hex digits>" the file was generated with`, { position: pos(sf, (e ?? call).getStart(sf)) });
    }
    return v;
  };
  const steps = (key: string): LocatedStep[] | null => {
    const e = props.get(key);
    if (e === undefined) throw new InvalidInputError("MIGRATION_SHAPE", `the migration has no \`${key}\` list`, { position: pos(sf, call.getStart(sf)) });
    if (e.kind === ts.SyntaxKind.NullKeyword && key === "down") return null;
    if (!ts.isArrayLiteralExpression(e)) throw new InvalidInputError("MIGRATION_SHAPE", `\`${key}\` must be an array of steps`, { position: pos(sf, e.getStart(sf)) });
    return e.elements.map((el) => {
      if (!ts.isCallExpression(el) || !ts.isIdentifier(el.expression) || !OPS.has(el.expression.text)) {
        throw new InvalidInputError("MIGRATION_STEP_INVALID", `each step must be a call to one of: ${STEP_OPS.join(", ")}`, { position: pos(sf, el.getStart(sf)) });
      }
      return { step: { op: el.expression.text as StepOp, args: el.arguments.map((a) => literal(sf, a)) }, origin: pos(sf, el.getStart(sf)) };
    });
  };
  const { checksum, algorithm } = checksumOf(text);
  return {
    id: fileName.replace(/\.ts$/, ""),
    fileName,
    path,
    displayPath: display,
    checksum,
    checksumAlgorithm: algorithm,
    parent: hash("parent"),
    result: hash("result"),
    up: steps("up") ?? [],
    down: steps("down"),
  };
}

/** Literal values only: a migration step's arguments are data. */
function literal(sf: ts.SourceFile, e: ts.Expression): unknown {
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  if (ts.isNumericLiteral(e)) return Number(e.text);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return -Number(e.operand.text);
  if (e.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (e.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (e.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) return literal(sf, e.expression);
  if (ts.isArrayLiteralExpression(e)) return e.elements.map((x) => literal(sf, x));
  if (ts.isObjectLiteralExpression(e)) {
    const out: Record<string, unknown> = {};
    for (const p of e.properties) {
      if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) throw literalOnly(sf, p);
      out[p.name.text] = literal(sf, p.initializer);
    }
    return out;
  }
  throw literalOnly(sf, e);
}

function literalOnly(sf: ts.SourceFile, node: ts.Node): InvalidInputError {
  return new InvalidInputError("MIGRATION_NOT_LITERAL", `migration steps take literal values only (strings, numbers, booleans, null, arrays, objects), found \`${node.getText(sf).slice(0, 60)}\``, {
    position: pos(sf, node.getStart(sf)),
    hint: "migrations are read without running them, so they stay reproducible; write the value out",
  });
}

function pos(sf: ts.SourceFile, offset: number): SourcePosition {
  const { line, character } = sf.getLineAndCharacterOfPosition(offset);
  return { file: sf.fileName, line: line + 1, column: character + 1 };
}

/** The dev draft of a migrations folder, if there is one. */
export function readDraft(dir: string, displayDir = dir): MigrationFile | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, DRAFT_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return readMigrationText(text, DRAFT_FILE, join(dir, DRAFT_FILE), join(displayDir, DRAFT_FILE));
}
