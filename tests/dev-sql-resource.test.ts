import test from "ava";
import { SEED_APP } from "../lib/project/init.js";
import { editFile, initProject, runCli } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";

// `moose dev` with SqlResources: created as the app declares them, re-created when their SQL changes, dropped when
// removed — and a removal whose teardown drops a table holding rows waits for approval, as any data loss does.

const RESOURCES = `
export const userIds = new SqlResource("UserIds", ["CREATE VIEW user_ids AS SELECT id FROM Users"], ["DROP VIEW user_ids"], { pullsDataFrom: [usersTable] });
export const store = new SqlResource("Store", ["CREATE TABLE store (id String) ENGINE = MergeTree ORDER BY id"], ["DROP TABLE store"]);
`;

const project = () =>
  initProject("dev-sqlres", SEED_APP.replace('import { OlapTable, Stream } from "moose-migrate";', 'import { OlapTable, SqlResource, Stream } from "moose-migrate";') + RESOURCES);

const edit = (dir: string, from: string, to: string) => editFile(dir, "app/index.ts", from, to);

const columnsOf = async (dir: string, table: string) =>
  (JSON.parse((await runCli(dir, ["query", `SELECT name FROM system.columns WHERE database = 'local' AND table = '${table}' ORDER BY position`, "--format", "json"])).stdout) as Array<{ name: string }>).map((c) => c.name);

const tables = async (dir: string) =>
  (JSON.parse((await runCli(dir, ["query", "SELECT name FROM system.tables WHERE database = 'local' ORDER BY name", "--format", "json"])).stdout) as Array<{ name: string }>).map((c) => c.name);

test("moose dev creates, re-creates and drops SQL resources as the code changes; dropping one that holds rows waits for approval", async (t) => {
  const dir = await project();
  const dev = new DevProcess(dir);
  t.teardown(() => void dev.stop());
  await dev.waitFor(/✓ applied 4 steps in \d+ ms/);
  t.deepEqual(await columnsOf(dir, "user_ids"), ["id"]);
  t.true((await tables(dir)).includes("store"));
  const insert = await runCli(dir, ["query", "--write", "INSERT INTO store VALUES ('a'), ('b')"]);
  t.is(insert.code, 0, insert.stderr);

  // The view's SQL changes: the resource is torn down and set up again, reading the new column list.
  edit(dir, "CREATE VIEW user_ids AS SELECT id FROM Users", "CREATE VIEW user_ids AS SELECT id, email FROM Users");
  const changed = await dev.waitFor(/✓ applied \d+ steps? in \d+ ms/);
  t.regex(changed, /UserIds/);
  t.deepEqual(await columnsOf(dir, "user_ids"), ["id", "email"]);

  // Removing the view's resource drops a view (no rows): applied at once.
  edit(dir, 'export const userIds = new SqlResource("UserIds", ["CREATE VIEW user_ids AS SELECT id, email FROM Users"], ["DROP VIEW user_ids"], { pullsDataFrom: [usersTable] });\n', "");
  await dev.waitFor(/✓ applied \d+ steps? in \d+ ms/);
  t.false((await tables(dir)).includes("user_ids"));

  // Removing the resource whose teardown drops a MergeTree table with rows: nothing happens without approval.
  edit(dir, 'export const store = new SqlResource("Store", ["CREATE TABLE store (id String) ENGINE = MergeTree ORDER BY id"], ["DROP TABLE store"]);\n', "");
  const waiting = await dev.waitFor(/⏸ waiting for approval: nothing applied\n/);
  t.regex(waiting, /NOT applied/);
  t.regex(waiting, /Store/);
  t.true((await tables(dir)).includes("store"));
  const rows = await runCli(dir, ["query", "SELECT count() AS n FROM store", "--format", "json"]);
  t.deepEqual(JSON.parse(rows.stdout), [{ n: "2" }]);
  t.is(await dev.stop(), 0);
});
