/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Colours and emoji-free fallbacks are chosen from this. */
  readonly isTTY: boolean;
}

export function processIO(): CliIO {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY),
  };
}

/** Collects output in memory: for tests of the parser and presenters. */
export function memoryIO(cwd: string, env: Record<string, string | undefined> = {}): CliIO & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    cwd,
    env,
    isTTY: false,
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    out: () => out,
    err: () => err,
  };
}
