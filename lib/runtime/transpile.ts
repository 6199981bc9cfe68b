import ts from "../extract/typescript.cjs";
import { workspaceSourceEntry } from "../extract/workspace-source.js";

/** A request from the loader thread: transpile `text` (the contents of `file`). */
export interface TranspileRequest {
  readonly id: number;
  readonly file: string;
  readonly text: string;
  /** The load generation that imports the file (see `GENERATION_PARAM`), when it has one. */
  readonly generation: number | undefined;
}

/** The answer: the JavaScript, or a syntax error whose message starts with `file:line:column: `. */
export type TranspileResponse = { readonly id: number; readonly output: string } | { readonly id: number; readonly syntaxError: string };

/** A request from the loader thread: the TypeScript source entry of the workspace package in `packageDir`. */
export interface WorkspaceRequest {
  readonly id: number;
  readonly workspace: string;
}

/** The answer: the entry's source file, or null when the package has none (it then loads as Node resolves it). */
export interface WorkspaceResponse {
  readonly id: number;
  readonly entry: string | null;
}

/**
 * Transpiles one app file to an ES module (types stripped, each file alone, source map
 * inlined). Runs on the main thread, which already holds the TypeScript compiler for
 * planning: the loader thread asks for it (`loader-hooks.ts`) instead of loading a second
 * copy of the compiler, which cost a `moose dev` process about 85 MB.
 */
export function transpileAppFile(file: string, text: string): { readonly output: string } | { readonly syntaxError: string } {
  const out = ts.transpileModule(text, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      inlineSourceMap: true,
      // Stack frames only need the mappings (the .ts files are on disk). Embedding the sources
      // kept a copy of every app file per reload alive: ~9 MB per save at 1,000 tables.
      inlineSources: false,
      esModuleInterop: true,
      // Another file's `const enum` is read from its emitted object: each file is transpiled alone.
      preserveConstEnums: true,
      experimentalDecorators: true,
    },
  });
  const problems = (out.diagnostics ?? []).filter((dg) => dg.category === ts.DiagnosticCategory.Error);
  const first = problems[0];
  if (first === undefined) return { output: out.outputText };
  let where = file;
  if (first.file !== undefined && first.start !== undefined) {
    const { line, character } = first.file.getLineAndCharacterOfPosition(first.start);
    where = `${file}:${line + 1}:${character + 1}`;
  }
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return { syntaxError: `${where}: ${ts.flattenDiagnosticMessageText(first.messageText, "\n")}${more}` };
}

export function answer(request: TranspileRequest): TranspileResponse {
  return { id: request.id, ...transpileAppFile(request.file, request.text) };
}

export function answerWorkspace(request: WorkspaceRequest): WorkspaceResponse {
  return { id: request.id, entry: workspaceSourceEntry(request.workspace) ?? null };
}
