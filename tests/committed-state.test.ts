import test from "ava";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, hashInfraMap, type InfraMap } from "../lib/model/infra-map.js";
import { readMigrations } from "../lib/migrations/files/read.js";
import { replayMigrations } from "../lib/migrations/files/sequence.js";
import { COMMITTED_STATE_CACHE, readCommittedState, recordedResult } from "../lib/migrations/files/committed-state.js";
import { MooseError } from "../lib/errors.js";
import { checksumOf } from "../lib/ledger/checksum.js";
import { editFile, initProject, runCli } from "./helpers/cli.js";

// The commands run in this process and open no engine, so the tests run concurrently.

const APP = `import { OlapTable, Key } from "moose-migrate";
export interface User { id: Key<string>; email: string }
export const users = new OlapTable<User>("Users", { orderByFields: ["id"] });
export interface Order { id: Key<string>; total: number }
export const orders = new OlapTable<Order>("Orders", { orderByFields: ["id"] });
`;

/** A project with three committed migrations (create, add a column, add another). */
async function project(): Promise<string> {
  const dir = await initProject("cstate", APP);
  await generate(dir);
  editFile(dir, "app/index.ts", "email: string }", "email: string; age: number }");
  await generate(dir);
  editFile(dir, "app/index.ts", "total: number }", "total: number; note?: string }");
  await generate(dir);
  return dir;
}

async function generate(dir: string): Promise<void> {
  const r = await runCli(dir, ["migrate", "generate"]);
  if (r.code !== 0) throw new Error(r.stderr + r.stdout);
}

const read = (dir: string) => readCommittedState(join(dir, "migrations"), "migrations", join(dir, ".moose"));
const cacheFile = (dir: string) => join(dir, ".moose", COMMITTED_STATE_CACHE);
const files = (dir: string) => readdirSync(join(dir, "migrations")).filter((f) => /^\d{14}_.*\.ts$/.test(f)).sort();

/** What the files replay to with no cache at all. */
function replayed(dir: string): InfraMap {
  return replayMigrations(readMigrations(join(dir, "migrations"))).state;
}

function rewriteCache(dir: string, change: (cache: { files: [string, string, string][]; hash: string; state: InfraMap; tool: string }) => void): void {
  const cache = JSON.parse(readFileSync(cacheFile(dir), "utf8"));
  change(cache);
  writeFileSync(cacheFile(dir), JSON.stringify(cache));
}

test("a hit replays nothing and gives the state a full replay gives; the plan is the same with and without the cache", async (t) => {
  const dir = await project();
  rmSync(cacheFile(dir), { force: true });
  const first = read(dir);
  t.is(first.replayed, 3);
  t.is(first.count, 3);
  const second = read(dir);
  t.is(second.replayed, 0);
  t.is(canonicalJson(second.state), canonicalJson(replayed(dir)));
  t.is(second.hash, hashInfraMap(replayed(dir)));
  t.is(second.newest, files(dir).at(-1)!.slice(0, 14));

  editFile(dir, "app/index.ts", "age: number }", "age: number; city: string }");
  const hit = await runCli(dir, ["plan", "--json"]);
  t.is(hit.code, 0, hit.stderr);
  rmSync(cacheFile(dir));
  const miss = await runCli(dir, ["plan", "--json"]);
  t.is(miss.code, 0, miss.stderr);
  t.is(hit.stdout, miss.stdout);
  t.regex(hit.stdout, /"city"/);
});

test("plan --sql reads the committed state from the cache as plan does: the same SQL with and without it, and no committed file the cache covers is parsed", async (t) => {
  const dir = await project();
  editFile(dir, "app/index.ts", "age: number }", "age: number; city: string }");
  const stamps = (text: string) => text.replace(/\d{14}_plan/g, "<stamp>_plan");
  const hit = await runCli(dir, ["plan", "--sql", "--json"]);
  t.is(hit.code, 0, hit.stderr);
  t.is(read(dir).replayed, 0);
  rmSync(cacheFile(dir));
  const miss = await runCli(dir, ["plan", "--sql", "--json"]);
  t.is(miss.code, 0, miss.stderr);
  t.is(stamps(hit.stdout), stamps(miss.stdout));
  t.regex(hit.stdout, /ALTER TABLE `local`\.`Users` ADD COLUMN `city` String/);

  // The first file made unreadable, and the cache made to cover it (as if it had been written
  // before the damage): only a command that parses the file can tell. plan --sql, like plan,
  // plans from the cache; a full replay refuses the file.
  const [first] = files(dir);
  const path = join(dir, "migrations", first!);
  writeFileSync(path, readFileSync(path, "utf8") + "\n)\n");
  rewriteCache(dir, (c) => {
    c.files[0]![1] = checksumOf(readFileSync(path, "utf8")).checksum;
  });
  const cached = await runCli(dir, ["plan", "--sql", "--json"]);
  t.is(cached.code, 0, cached.stderr);
  t.is(stamps(cached.stdout), stamps(miss.stdout));
  rmSync(cacheFile(dir));
  const replayedAll = await runCli(dir, ["plan", "--sql", "--json"]);
  t.not(replayedAll.code, 0);
  t.regex(replayedAll.stderr + replayedAll.stdout, /MIGRATION_SYNTAX/);
});

test("files added after the cached ones are the only ones replayed", async (t) => {
  const dir = await project();
  read(dir);
  editFile(dir, "app/index.ts", "age: number }", "age: number; city: string }");
  await generate(dir); // plans from the cache, then writes a fourth file
  const after = read(dir);
  t.is(after.count, 4);
  t.is(after.replayed, 1);
  t.is(canonicalJson(after.state), canonicalJson(replayed(dir)));
  t.is(read(dir).replayed, 0);
});

test("an edited committed file is never covered by the cache: a harmless edit replays all, a breaking one is refused as without a cache", async (t) => {
  const dir = await project();
  t.is(read(dir).replayed, 1); // the last generate planned from the two files before its own
  t.is(read(dir).replayed, 0);
  const [first] = files(dir);
  const path = join(dir, "migrations", first!);
  writeFileSync(path, readFileSync(path, "utf8") + "// reviewed\n");
  t.is(read(dir).replayed, 3);
  t.is(read(dir).replayed, 0);

  writeFileSync(path, readFileSync(path, "utf8").replace(`name: "email", type: "String"`, `name: "mail", type: "String"`));
  const error = t.throws(() => read(dir));
  t.true(error instanceof MooseError);
  t.is((error as MooseError).code, "MIGRATION_RESULT_MISMATCH");
  const plan = await runCli(dir, ["plan"]);
  t.is(plan.code, 3);
  t.regex(plan.stderr, /MIGRATION_RESULT_MISMATCH/);
});

test("a removed committed file is not covered by the cache", async (t) => {
  const dir = await project();
  read(dir);
  const [, second, third] = files(dir);
  const thirdText = readFileSync(join(dir, "migrations", third!), "utf8");
  rmSync(join(dir, "migrations", third!));
  const two = read(dir);
  t.is(two.count, 2);
  t.is(two.replayed, 2);
  t.is(two.hash, hashInfraMap(replayed(dir)));
  // The third file back, the second gone: the third's parent is not the first's result.
  writeFileSync(join(dir, "migrations", third!), thirdText);
  rmSync(join(dir, "migrations", second!));
  const error = t.throws(() => read(dir));
  t.is((error as MooseError).code, "MIGRATION_CHAIN_BROKEN");
});

test("a tampered cache is not used: changed state, state and hash changed together, garbage, another tool version", async (t) => {
  const dir = await project();
  const truth = canonicalJson(replayed(dir));
  read(dir);

  rewriteCache(dir, (c) => {
    delete (c.state.tables as Record<string, unknown>)["Orders"];
  });
  let r = read(dir);
  t.is(r.replayed, 3);
  t.is(canonicalJson(r.state), truth);

  // Consistent with itself, but not with the `result` the last file records.
  rewriteCache(dir, (c) => {
    delete (c.state.tables as Record<string, unknown>)["Orders"];
    c.hash = hashInfraMap(c.state);
    c.files[c.files.length - 1]![2] = c.hash;
  });
  r = read(dir);
  t.is(r.replayed, 3);
  t.is(canonicalJson(r.state), truth);

  writeFileSync(cacheFile(dir), "{ not json");
  t.is(read(dir).replayed, 3);

  rewriteCache(dir, (c) => {
    c.tool = "0.0.0-other";
  });
  t.is(read(dir).replayed, 3);

  // A cache claiming more files than there are.
  rewriteCache(dir, (c) => {
    c.files.push(["29991231235959_future.ts", "0".repeat(64), c.hash]);
  });
  t.is(read(dir).replayed, 3);
  t.is(read(dir).replayed, 0);
});

test("recordedResult reads the result a file records wherever it stands, ignoring comments, strings and nested keys", (t) => {
  const hash = `sha256:${"ab".repeat(32)}`;
  const other = `sha256:${"cd".repeat(32)}`;
  t.is(recordedResult(`import { migration } from "moose-migrate/migration";\nexport default migration({ parent: "${other}", result: "${hash}", up: [], down: [] });\n`), hash);
  t.is(
    recordedResult(`// result: "${other}"\nexport default migration({\n  parent: "${other}",\n  up: [addColumn("T", { result: "${other}", name: "result" })],\n  "result": \`${hash}\`,\n  down: null,\n});\n`),
    hash,
  );
  t.is(recordedResult(`export default migration({ parent: "${other}", up: [] });`), undefined);
  t.is(recordedResult(`export default other({ result: "${hash}" });`), undefined);
});
