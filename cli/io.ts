/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Colours and emoji-free fallbacks are chosen from this. */
  readonly isTTY: boolean;
  /** Resolves when the operator stops a long-running command (SIGINT / SIGTERM). */
  stopped(): Promise<NodeJS.Signals>;
}

export function processIO(): CliIO {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY),
    stopped: () =>
      new Promise((resolve) => {
        const on = (signal: NodeJS.Signals) => {
          process.off("SIGINT", on);
          process.off("SIGTERM", on);
          resolve(signal);
        };
        process.on("SIGINT", on);
        process.on("SIGTERM", on);
      }),
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
    stopped: () => new Promise<NodeJS.Signals>(() => {}),
    out: () => out,
    err: () => err,
  };
}
