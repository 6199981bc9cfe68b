import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { BIN, type CliResult } from "./cli.js";

/**
 * `moose ...args` as a child process without blocking the event loop, so servers
 * the test itself runs (fake instances, black holes) keep answering meanwhile.
 */
export function mooseAsync(cwd: string, args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The environment for a child: this one, minus the admin token unless the test sets it, plus `env`. */
function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" };
  delete out["MOOSE_ADMIN_TOKEN"];
  delete out["MOOSE_AUTHENTICATION__ADMIN_API_KEY"];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** A port nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A running `moose prod` child and everything it printed so far. */
export interface ProdInstance {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Resolves when `text` (or a match) has been printed; rejects on exit or after `ms`. */
  waitFor(text: string | RegExp, ms?: number): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `moose prod --port <free port>` in `cwd` and waits until it prints the
 * URL it listens on. On failure to start, rejects with its output and exit code.
 */
export async function startProd(cwd: string, env: Record<string, string | undefined> = {}, args: readonly string[] = []): Promise<ProdInstance> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "prod", "--port", String(port), ...args], {
    cwd,
    env: cleanEnv({ MOOSE_HTTP_SERVER_CONFIG__HOST: "127.0.0.1", ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exited: number | null | undefined;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => ((output += d), notify()));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => ((output += d), notify()));
  const closed = new Promise<number | null>((r) =>
    child.on("close", (code) => {
      exited = code;
      notify();
      r(code);
    }),
  );
  const waitFor = (text: string | RegExp, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (typeof text === "string" ? output.includes(text) : text.test(output)) return done(resolve);
        if (exited !== undefined) return done(() => reject(new Error(`moose prod exited (${exited}) before printing ${String(text)}:\n${output}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`moose prod did not print ${String(text)} within ${ms} ms:\n${output}`))), ms);
      const done = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  const url = `http://127.0.0.1:${port}`;
  const instance: ProdInstance = {
    child,
    url,
    output: () => output,
    waitFor,
    stop: async () => {
      if (exited === undefined) child.kill("SIGTERM");
      return closed;
    },
  };
  try {
    await waitFor(url, 90_000);
  } catch (error) {
    await instance.stop().catch(() => undefined);
    throw error;
  }
  return instance;
}
