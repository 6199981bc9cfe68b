import test from "ava";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { editFile, initProject, runCli } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";
import { startTemporalTestServer } from "./helpers/temporal-test-server.js";

/**
 * `moose dev` with workflows enabled: with nothing answering at [temporal_config]'s
 * loopback address it runs them embedded (schedules from the migrations fire, `moose
 * workflow` commands act on it, task errors carry the .ts position, a schedule change is a
 * migration applied to it, and it all survives a restart); with a Temporal answering
 * there, dev uses that Temporal as before.
 */

const APP = `import { Key, OlapTable, Task, Workflow } from "moose-migrate";

interface Tick {
  id: Key<string>;
  at: number;
}
export const ticks = new OlapTable<Tick>("Ticks");

const record = new Task<null, number>("record", {
  run: async () => {
    await ticks.insert([{ id: "t", at: Date.now() }]);
    return 1;
  },
});
export const ticker = new Workflow("ticker", { startingTask: record, schedule: "@every 1s", retries: 0 });

const boom = new Task<null, void>("boom", {
  run: async () => {
    throw new Error("kaput");
  },
  retries: 0,
});
export const failing = new Workflow("failing", { startingTask: boom, retries: 0 });
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function project(): Promise<string> {
  const dir = await initProject("wfdev", APP);
  editFile(dir, "moose.config.toml", "workflows = false", "workflows = true");
  return dir;
}

async function until<T>(what: string, get: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.serial("no Temporal at the loopback address: dev runs the workflows embedded — schedules fire, errors name the .ts line, a schedule change migrates, state survives a restart", async (t) => {
  const dir = await project();
  // A loopback address where nothing listens (the default localhost:7233 might be in use on a shared machine).
  const env = { MOOSE_TEMPORAL_CONFIG__ADDRESS: `127.0.0.1:${await freePort()}` };
  let dev = new DevProcess(dir, [], env);
  t.teardown(() => void dev.stop());
  await dev.waitFor(new RegExp(`workflows embedded \\(nothing answers at ${env.MOOSE_TEMPORAL_CONFIG__ADDRESS}\\)`));
  const applied = await dev.waitFor(/✓ applied \d+ steps? in/, 120_000);
  t.regex(applied, /createWorkflow\("ticker"\)/);

  // The schedule the migration created fires every second and the task's insert lands.
  const count = async () => {
    const r = await runCli(dir, ["query", "SELECT count() AS n FROM Ticks", "--format", "json"], env);
    if (r.code !== 0) throw new Error(r.stderr);
    return Number((JSON.parse(r.stdout) as Array<{ n: unknown }>)[0]!.n);
  };
  await until("scheduled runs", count, (n) => n >= 2);
  const history = await runCli(dir, ["workflow", "history", "--status", "completed", "--json"], env);
  t.is(history.code, 0, history.stderr);
  t.true((JSON.parse(history.stdout) as { runs: Array<{ workflow: string; trigger: string }> }).runs.every((r) => r.workflow === "ticker" && r.trigger === "schedule"));

  // A task's error is printed in dev's terminal with the app's .ts file:line, and dev goes on.
  const failing = await runCli(dir, ["workflow", "run", "failing"], env);
  t.is(failing.code, 0, failing.stderr);
  const throwLine = APP.split("\n").findIndex((l) => l.includes('throw new Error("kaput")')) + 1;
  await dev.waitFor(new RegExp(`✗ workflow failing task boom attempt 1/1 failed: app/index\\.ts:${throwLine}:\\d+: Error: kaput`));
  const status = await until(
    "the failed run",
    async () => JSON.parse((await runCli(dir, ["workflow", "status", "failing", "--json"], env)).stdout) as { runs: Array<{ status: string; error: string }> },
    (s) => s.runs?.[0]?.status === "failed",
  );
  t.regex(status.runs[0]!.error, new RegExp(`^task boom failed after 1 attempt: app/index\\.ts:${throwLine}:\\d+: Error: kaput$`));
  const unknown = await runCli(dir, ["workflow", "run", "ticket"], env);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /error\[WORKFLOW_NOT_FOUND\]: no workflow "ticket" in the app \(did you mean "ticker"\?\)/);

  // Pause: no more runs.
  t.is((await runCli(dir, ["workflow", "pause", "ticker"], env)).code, 0);
  await new Promise((r) => setTimeout(r, 1_500));
  const pausedAt = await count();
  await new Promise((r) => setTimeout(r, 2_000));
  t.is(await count(), pausedAt, "a paused schedule starts no run");

  // A schedule change is a migration step applied to the embedded engine; the pause made by hand stays.
  editFile(dir, "app/index.ts", 'schedule: "@every 1s"', 'schedule: "@every 1h"');
  const changed = await dev.waitFor(/✓ applied \d+ steps? in/, 60_000);
  t.regex(changed, /ticker/);
  const listed = JSON.parse((await runCli(dir, ["workflow", "list", "--json"], env)).stdout) as { workflows: Array<Record<string, unknown>> };
  t.like(listed.workflows.find((w) => w.name === "ticker"), { schedule: "@every 1h", scheduled: true, paused: true, declared: true });
  t.like(listed.workflows.find((w) => w.name === "failing"), { scheduled: false, declared: true });
  t.regex(readFileSync(join(dir, "migrations/.draft.ts"), "utf8"), /@every 1h/);

  // Stopped and started again: the schedule and the runs are still there.
  t.is(await dev.stop(), 0);
  const offline = JSON.parse((await runCli(dir, ["workflow", "list", "--json"], env)).stdout) as { workflows: Array<Record<string, unknown>> };
  t.like(offline.workflows.find((w) => w.name === "ticker"), { schedule: "@every 1h", scheduled: true, paused: true });
  dev = new DevProcess(dir, [], env);
  await dev.waitFor(/workflows embedded/);
  await dev.waitFor(/The database matches the code|✓ applied/, 120_000);
  t.is((await runCli(dir, ["workflow", "unpause", "ticker"], env)).code, 0);
  const after = JSON.parse((await runCli(dir, ["workflow", "status", "failing", "--json"], env)).stdout) as { runs: Array<{ status: string }> };
  t.is(after.runs[0]!.status, "failed");
});

test.serial("a Temporal answering at the configured address: dev creates the schedule there, and moose workflow says it runs no worker", async (t) => {
  const temporal = await startTemporalTestServer();
  t.teardown(() => temporal.close());
  const dir = await project();
  const env = { MOOSE_TEMPORAL_CONFIG__ADDRESS: temporal.address };
  const dev = new DevProcess(dir, [], env);
  t.teardown(() => void dev.stop());
  await dev.waitFor(new RegExp(`workflows Temporal at ${temporal.address}, namespace default`));
  await dev.waitFor(/✓ applied \d+ steps? in/, 120_000);
  t.deepEqual([...temporal.schedules().keys()], ["moose-ticker"]);
  const run = await runCli(dir, ["workflow", "run", "ticker"], env);
  t.is(run.code, 1);
  t.regex(run.stderr, new RegExp(`error\\[WORKFLOWS_NOT_EMBEDDED\\]: moose dev uses the Temporal at ${temporal.address}, where moose-migrate runs no worker for the app's tasks`));
});
