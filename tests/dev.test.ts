import test from "ava";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mooseAsync, runCli, tempDir } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";
import { queryRows } from "./helpers/ledger-sqlite.js";

// `moose dev` runs as the binary (it is stopped with a signal); the other commands run in this process.

async function project(): Promise<string> {
  const root = tempDir("dev");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return join(root, "p");
}

function edit(dir: string, from: string, to: string): void {
  const path = join(dir, "app/index.ts");
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`app has no ${from}`);
  writeFileSync(path, text.replace(from, to));
}

const columns = async (dir: string, table: string) =>
  (JSON.parse((await runCli(dir, ["query", `SELECT name, type FROM system.columns WHERE database = 'local' AND table = '${table}' ORDER BY position`, "--format", "json"])).stdout) as Array<{ name: string; type: string }>).map(
    (c) => `${c.name} ${c.type}`,
  );

test.serial("moose dev: start, add a table, add a field, a type error and its fix, finalise, remove a field", async (t) => {
  const dir = await project();
  const dev = new DevProcess(dir);
  t.teardown(() => void dev.stop());
  const url = await dev.url();
  const start = await dev.waitFor(/✓ applied 2 steps in \d+ ms \(extract \d+ ms, apply \d+ ms\) · draft migrations\/\.draft\.ts\n/);
  t.regex(start, /Infrastructure Changes:\n New Components\n  \+ Users \(OLAP Table\)\n  \+ UserEvents \(Streaming Topic\)\n/);
  t.regex(dev.text, /ledger   \.moose\/ledger\.sqlite; draft migrations\/\.draft\.ts; log \.moose\/moose\.log/);
  const health = await fetch(`${url}/health`);
  t.is(health.status, 200);
  t.deepEqual(await health.json(), { status: "ok" });

  // From a second process, through the running instance (it holds the embedded engine).
  t.deepEqual(await columns(dir, "Users"), ["id String", "name String", "email String"]);
  t.true(existsSync(join(dir, "migrations", ".draft.ts")));
  const draftRow = await queryRows<Record<string, unknown>>(join(dir, ".moose/ledger.sqlite"), "SELECT id, status, steps_total FROM migrations");
  t.deepEqual(draftRow, [{ id: ".draft", status: "applied", steps_total: 2 }]);

  edit(dir, "export const usersTable", 'interface AnalyticsSchema {\n  event: string;\n  at: Date;\n}\nexport const analyticsTable = new OlapTable<AnalyticsSchema>("Analytics");\nexport const usersTable');
  const added = await dev.waitFor(/✓ applied 1 step in \d+ ms/);
  t.regex(added, /⟳ app\/index\.ts\nInfrastructure Changes:\n New Components\n  \+ Analytics \(OLAP Table\)\n/);
  t.deepEqual(await columns(dir, "Analytics"), ["event String", "at DateTime('UTC')"]);

  edit(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  const field = await dev.waitFor(/✓ applied 2 steps in \d+ ms/);
  t.regex(field, /~ Users \(Schema Update\)\n      \+ age Nullable\(Float64\)\n/);
  t.deepEqual(await columns(dir, "Users"), ["id String", "name String", "email String", "age Nullable(Float64)"]);

  edit(dir, "  age?: number;\n", "  age?: number;\n  broken: any;\n");
  const bad = await dev.waitFor(/the last good state is kept:\n.*\n/);
  t.regex(bad, /error\[UNSUPPORTED_TYPE\]: app\/index\.ts:\d+:3: UserSchema\.broken: `any` cannot be stored in a ClickHouse column/);
  t.deepEqual(await columns(dir, "Users"), ["id String", "name String", "email String", "age Nullable(Float64)"]);
  edit(dir, "  broken: any;\n", "  city: string;\n");
  const fixed = await dev.waitFor(/✓ applied 2 steps in \d+ ms/);
  t.regex(fixed, /\+ city String/);

  // Finalise the session's draft into a reviewed migration: dev records it as applied, the draft goes away.
  // From another terminal, as a user finalises: its own process (in this one, a cold embedded-version
  // cache made generate start chDB beside the state the earlier in-process commands left).
  const generated = await mooseAsync(dir, ["migrate", "generate", "--name", "initial"]);
  t.is(generated.code, 0, generated.stderr);
  await dev.waitFor(/✓ \d{14}_initial matches the database: recorded as applied\n/);
  await dev.waitFor(/no uncommitted changes\n/);
  t.false(existsSync(join(dir, "migrations", ".draft.ts")));
  const status = await runCli(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  t.is((JSON.parse(status.stdout) as { verdict: string }).verdict, "ok");

  // Removing a field loses data: not without a confirmation.
  edit(dir, "  email: string;\n", "");
  const waiting = await dev.waitFor(/⏸ waiting for approval: nothing applied\n/);
  t.regex(waiting, /These changes lose data and were NOT applied:\n.*⚠ drops a column and its data: Users\.email/);
  t.true((await columns(dir, "Users")).includes("email String"));
  t.is(await dev.stop(), 0);
  t.false(existsSync(join(dir, ".moose", "dev.json")));

  const again = new DevProcess(dir, ["--accept-data-loss"]);
  t.teardown(() => void again.stop());
  const dropped = await again.waitFor(/✓ applied \d+ steps? in/);
  t.regex(dropped, /Data loss accepted \(--accept-data-loss\):\n  ⚠ drops a column and its data: Users\.email/);
  t.false((await columns(dir, "Users")).includes("email String"));
  t.true(readdirSync(join(dir, "migrations")).includes(".draft.ts"));
  t.is(await again.stop(), 0);
  const log = await runCli(dir, ["logs", "--filter", "waiting for approval"]);
  t.regex(log.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z ⏸ waiting for approval: nothing applied$/m);
});

test.serial("moose dev serves ingest and consumption endpoints as they are declared, without a restart", async (t) => {
  const dir = await project();
  const dev = new DevProcess(dir);
  t.teardown(() => void dev.stop());
  const url = await dev.url();
  await dev.waitFor(/✓ applied 2 steps/);
  t.is((await fetch(`${url}/ingest/users`, { method: "POST", body: "{}" })).status, 404);

  writeFileSync(
    join(dir, "app/index.ts"),
    `import { OlapTable, Stream, IngestApi, ConsumptionApi } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
  age?: number;
}

export const usersTable = new OlapTable<UserSchema>("Users");
export const userEvents = new Stream<UserSchema>("UserEvents", { destination: usersTable });
export const userIngest = new IngestApi<UserSchema>("users", { destination: userEvents });
export const userCount = new ConsumptionApi<{ minAge: number }, unknown>("userCount", async ({ minAge }, { query }) =>
  query("SELECT count() AS n FROM Users WHERE ifNull(age, 0) >= {minAge:Float64}", { minAge }),
);
`,
  );
  const applied = await dev.waitFor(/✓ applied \d+ steps in/);
  t.regex(applied, /\+ ingest\/users \(API Endpoint\)/);
  t.regex(applied, /\+ api\/userCount \(API Endpoint\)/);
  t.regex(applied, /\+ UserEvents_to_Users \(Background Process\)/);

  const bad = await fetch(`${url}/ingest/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ id: "1", name: "Ada", email: "a@x", age: 36 }, { id: "2", name: "Bob", age: "old" }]) });
  t.is(bad.status, 400);
  const badBody = (await bad.json()) as { errors: Array<{ path: string; reason: string }> };
  t.deepEqual(badBody.errors.map((e) => e.path).sort(), ["[1].age", "[1].email"]);

  const ok = await fetch(`${url}/ingest/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ id: "1", name: "Ada", email: "a@x", age: 36 }, { id: "2", name: "Bob", email: "b@x" }]) });
  t.is(ok.status, 200, await ok.clone().text());
  // The stream's sync delivers the rows to the table; nothing of the rejected request arrived.
  let rows: unknown[] = [];
  for (let i = 0; i < 100 && rows.length < 2; i++) {
    rows = JSON.parse((await runCli(dir, ["query", "SELECT id, age FROM Users ORDER BY id", "--format", "json"])).stdout) as unknown[];
    if (rows.length < 2) await new Promise((r) => setTimeout(r, 200));
  }
  t.deepEqual(rows, [
    { id: "1", age: 36 },
    { id: "2", age: null },
  ]);
  const count = await fetch(`${url}/api/userCount?minAge=30`);
  t.is(count.status, 200, await count.clone().text());
  t.deepEqual(await count.json(), [{ n: "1" }]);
  const badParam = await fetch(`${url}/api/userCount?minAge=old`);
  t.is(badParam.status, 400);

  // Removing the endpoint from the code removes the route.
  const app = readFileSync(join(dir, "app/index.ts"), "utf8");
  writeFileSync(join(dir, "app/index.ts"), app.slice(0, app.indexOf("export const userCount")));
  await dev.waitFor(/- api\/userCount \(API Endpoint\)[\s\S]*?(✓ applied|⏸ waiting)/);
  t.is((await fetch(`${url}/api/userCount?minAge=30`)).status, 404);
});
