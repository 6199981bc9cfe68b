import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers/cli.js";

/**
 * `moose query` with the statement's own FORMAT (read from ClickHouse's parse tree) and
 * `INSERT … SELECT --write`, on embedded chDB (serial) and, with CLICKHOUSE_URL, the 18.16 server.
 */

const APP = 'import { OlapTable } from "moose-migrate";\ninterface U {\n  id: string;\n  n: number;\n}\nexport const users = new OlapTable<U>("Users");\n';

async function project(config?: string): Promise<string> {
  const root = tempDir("qfmt");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  if (config !== undefined) writeFileSync(join(dir, "moose.config.toml"), config);
  const g = await runCli(dir, ["migrate", "generate"]);
  const d = await runCli(dir, ["migrate", "deploy"]);
  if (g.code !== 0 || d.code !== 0) throw new Error(g.stderr + d.stderr);
  return dir;
}

test.serial("embedded: FORMAT Vertical and CSV print ClickHouse's own output; INSERT … SELECT --write inserts; reads stay read-only", async (t) => {
  const dir = await project();
  const ins = await runCli(dir, ["query", "INSERT INTO Users SELECT 'a', 1", "--write"]);
  t.is(ins.code, 0, ins.stderr);
  t.is(ins.stdout, "OK\n");
  const v = await runCli(dir, ["query", "SELECT id, n FROM Users FORMAT Vertical"]);
  t.is(v.code, 0, v.stderr);
  t.is(v.stdout, "Row 1:\n──────\nid: a\nn:  1\n");
  const csv = await runCli(dir, ["query", "SELECT id, n FROM Users FORMAT CSV"]);
  t.is(csv.stdout, '"a",1\n');
  // Without a FORMAT of its own, rows are printed by moose as before.
  t.is((await runCli(dir, ["query", "SELECT count() AS c FROM Users", "--format", "json"])).stdout, '[\n  {\n    "c": "1"\n  }\n]\n');
  const write = await runCli(dir, ["query", "SELECT * FROM Users INTO OUTFILE 'x.csv' FORMAT CSV"]);
  t.not(write.code, 0);
});

const url = process.env["CLICKHOUSE_URL"];
const server = url ? test.serial : test.skip;

server("ClickHouse 18.16: INSERT … SELECT --write runs as written; a statement's own FORMAT is refused by name, not a JSON error", async (t) => {
  const { hostname, port } = new URL(url!);
  const database = `moose_qfmt_${process.pid}_${Date.now().toString(36)}`;
  const dir = await project(`[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  const ins = await runCli(dir, ["query", "INSERT INTO Users SELECT 'a', 1", "--write"]);
  t.is(ins.code, 0, ins.stderr);
  t.deepEqual(JSON.parse((await runCli(dir, ["query", "SELECT id FROM Users", "--format", "json"])).stdout), [{ id: "a" }]);
  const v = await runCli(dir, ["query", "SELECT id FROM Users FORMAT Vertical"]);
  t.is(v.code, 2);
  t.regex(v.stderr, /^error\[QUERY_FORMAT\]: moose query prints rows itself; on a ClickHouse server it cannot pass on the statement's own FORMAT Vertical\n/);
});
