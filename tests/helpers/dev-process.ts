import { spawn, type ChildProcess } from "node:child_process";
import { BIN } from "./cli.js";

/** A `moose dev` child process whose output can be awaited line by line. */
export class DevProcess {
  readonly child: ChildProcess;
  private output = "";
  private cursor = 0;
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(cwd: string, args: readonly string[] = [], env: Readonly<Record<string, string>> = {}) {
    // A free port unless the test names one.
    const port = args.includes("--port") ? [] : ["--port", "0"];
    this.child = spawn(process.execPath, [BIN, "dev", ...port, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0", ...env } });
    const take = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) => this.child.on("close", (code) => {
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
  }

  /** Everything printed so far. */
  get text(): string {
    return this.output;
  }

  /**
   * Waits until output printed after the previous wait matches `pattern`, and
   * returns that new output (up to the end of the match).
   */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = this.output.slice(this.cursor);
      const m = pattern.exec(fresh);
      if (m) {
        this.cursor += m.index + m[0].length;
        return fresh.slice(0, m.index + m[0].length);
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`moose dev did not print ${pattern} within ${timeoutMs} ms; output since last wait:\n${fresh}\nwhole output:\n${this.output}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The server URL from the start-up banner. */
  async url(): Promise<string> {
    const banner = await this.waitFor(/server\s+(http:\/\/\S+)/);
    return /server\s+(http:\/\/\S+)/.exec(banner)![1]!;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill("SIGINT");
    return this.exited;
  }
}
