import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * A running `moose dev` announces itself in `<state_dir>/dev.json` (mode 0600):
 * the embedded ClickHouse admits one process per data folder, so other
 * commands (`moose query`, `moose migrate status`) send their work to it.
 */
export interface DevInstance {
  readonly pid: number;
  readonly url: string;
  /** Shared secret for the loopback control routes. */
  readonly token: string;
}

const FILE = "dev.json";

export function newDevToken(): string {
  return randomBytes(24).toString("base64url");
}

export function writeDevInstance(stateDir: string, instance: DevInstance): void {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, FILE);
  writeFileSync(path, JSON.stringify(instance, null, 2) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeDevInstance(stateDir: string, pid = process.pid): void {
  const current = readDevInstanceFile(stateDir);
  if (current && current.pid === pid) rmSync(join(stateDir, FILE), { force: true });
}

function readDevInstanceFile(stateDir: string): DevInstance | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as Partial<DevInstance>;
    if (typeof parsed.pid === "number" && typeof parsed.url === "string" && typeof parsed.token === "string") return parsed as DevInstance;
  } catch {
    // absent or unreadable: no instance
  }
  return undefined;
}

/** The running dev instance of this project, if its process is alive. */
export function runningDevInstance(stateDir: string): DevInstance | undefined {
  const instance = readDevInstanceFile(stateDir);
  if (!instance || instance.pid === process.pid) return undefined;
  try {
    process.kill(instance.pid, 0);
    return instance;
  } catch {
    return undefined;
  }
}
