import test from "ava";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { BIN, moose, tempDir } from "./helpers/cli.js";

/**
 * `moose dev` that cannot start (its port is taken) exits non-zero at once and releases
 * what it opened: the embedded engine's data folder is free for the next command. A
 * running dev stops on SIGTERM within 2 s. Real processes.
 */

function project(): string {
  const root = tempDir("dev-start");
  const r = moose(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return join(root, "p");
}

function devProcess(dir: string, port: number): { exited: Promise<{ code: number | null; out: string; ms: number }>; out: () => string; kill: (s: NodeJS.Signals) => void } {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, "dev", "--port", String(port)], { cwd: dir, env: { ...process.env, FORCE_COLOR: "0" } });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  const exited = new Promise<{ code: number | null; out: string; ms: number }>((resolve) => child.on("close", (code) => resolve({ code, out, ms: Date.now() - started })));
  return { exited, out: () => out, kill: (s) => child.kill(s) };
}

test.serial("moose dev on a port in use exits non-zero and releases the embedded engine", async (t) => {
  const dir = project();
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const dev = devProcess(dir, port);
  const timer = setTimeout(() => dev.kill("SIGKILL"), 60_000);
  const { code, out } = await dev.exited;
  clearTimeout(timer);
  t.not(code, 0, out);
  t.not(code, null, `killed after 60 s: it did not exit by itself\n${out}`);
  t.regex(out, /EADDRINUSE|in use/i);
  // The data folder is free: another command opens the embedded engine.
  const status = moose(dir, ["migrate", "status"]);
  t.true(status.code === 0 || status.code === 4, status.stdout + status.stderr);
});

test.serial("a running moose dev stops on SIGTERM within 2 s", async (t) => {
  const dir = project();
  const dev = devProcess(dir, 0);
  const deadline = Date.now() + 90_000;
  // Its first cycle done: nothing is being applied when the signal comes.
  const ready = /✓ applied|matches the code/;
  while (!ready.test(dev.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.regex(dev.out(), ready);
  const sent = Date.now();
  dev.kill("SIGTERM");
  const { code } = await dev.exited;
  t.is(code, 0);
  t.true(Date.now() - sent < 2_000, `took ${Date.now() - sent} ms`);
});
