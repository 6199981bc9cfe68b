/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Colours and emoji-free fallbacks are chosen from this. */
  readonly isTTY: boolean;
  /**
   * Asks the person at the terminal and resolves with the answer line. Absent when
   * nobody can answer (stdin is not a terminal): commands then decide without asking.
   */
  readonly ask?: (question: string) => Promise<string>;
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
    ...(process.stdin.isTTY
      ? {
          ask: async (question: string) => {
            const { createInterface } = await import("node:readline/promises");
            const rl = createInterface({ input: process.stdin, output: process.stdout });
            try {
              return await rl.question(question);
            } finally {
              rl.close();
            }
          },
        }
      : {}),
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

/**
 * Collects output in memory: for tests of the parser, the presenters and whole
 * commands. With `answers`, it is a terminal whose person gives those answers in
 * turn (a question beyond them fails the test's command).
 */
export function memoryIO(
  cwd: string,
  env: Record<string, string | undefined> = {},
  options: { readonly answers?: readonly string[] } = {},
): CliIO & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const answers = options.answers === undefined ? undefined : [...options.answers];
  return {
    cwd,
    env,
    isTTY: answers !== undefined,
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    ...(answers === undefined
      ? {}
      : {
          ask: async (question: string) => {
            out += question;
            const answer = answers.shift();
            if (answer === undefined) throw new Error(`no scripted answer left for: ${question}`);
            out += answer + "\n";
            return answer;
          },
        }),
    stopped: () => new Promise<NodeJS.Signals>(() => {}),
    out: () => out,
    err: () => err,
  };
}
