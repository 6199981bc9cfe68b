import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { tableConstraints } from "../lib/engines/olap/sql-text.js";
import { emptyInfraMap, type Table } from "../lib/model/infra-map.js";
import { editFile, initProject, runCli } from "./helpers/cli.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { applyToEngine, createChanges, mapOf, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";

/**
 * Table constraints (`constraints: [{ name, expression, type: "CHECK" | "ASSUME" }]`): created with
 * the table, changed by ADD / DROP CONSTRAINT (rows already stored are not checked: ClickHouse checks
 * INSERTs), read back from the CREATE statement without drift, refused on servers without them.
 */

const APP = `import { OlapTable, Key } from "moose-migrate";

interface Reading { id: Key<string>; celsius: number; source: string }

export const readings = new OlapTable<Reading>("Readings", {
  constraints: [
    { name: "plausible", expression: "celsius > -90 AND celsius < 60", type: "CHECK" },
    { name: "known_source", expression: "source IN ('a', 'b')", type: "ASSUME" },
  ],
});
`;

test.serial("constraints are created with the table, enforced on INSERT, changed by ADD/DROP CONSTRAINT with reverses, and read back without drift (embedded)", async (t) => {
  const dir = await initProject("constraints", APP);
  const g = await runCli(dir, ["migrate", "generate", "--name", "readings"]);
  t.is(g.code, 0, g.stderr);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  const show = await runCli(dir, ["query", "SELECT create_table_query AS q FROM system.tables WHERE name = 'Readings'", "--format", "json"]);
  const created = (JSON.parse(show.stdout) as Array<{ q: string }>)[0]!.q;
  t.deepEqual(tableConstraints(created), [
    { name: "known_source", type: "ASSUME", expression: "source IN ('a', 'b')" },
    { name: "plausible", type: "CHECK", expression: "(celsius > -90) AND (celsius < 60)" },
  ]);
  const bad = await runCli(dir, ["query", "INSERT INTO Readings VALUES ('r1', 100, 'a')", "--write"]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /VIOLATED_CONSTRAINT|plausible/);
  t.is((await runCli(dir, ["query", "INSERT INTO Readings VALUES ('r2', 20, 'a')", "--write"])).code, 0);
  t.is((await runCli(dir, ["migrate", "status"])).code, 0, "no drift: ClickHouse's formatting of the expression is not a difference");

  // Widen the CHECK and drop the ASSUME: one step, DROP + ADD, its reverse restores both.
  editFile(dir, "app/index.ts", "celsius > -90 AND celsius < 60", "celsius > -90 AND celsius < 150");
  editFile(dir, "app/index.ts", `    { name: "known_source", expression: "source IN ('a', 'b')", type: "ASSUME" },\n`, "");
  const g2 = await runCli(dir, ["migrate", "generate", "--name", "widen"]);
  t.is(g2.code, 0, g2.stderr);
  const file = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_widen.ts"))[0]!;
  const text = readFileSync(join(dir, "migrations", file), "utf8");
  t.regex(text, /setConstraints\("Readings", \[\{ name: "plausible", type: "CHECK", expression: "celsius > -90 AND celsius < 150" \}\]\)/);
  const sql = await runCli(dir, ["migrate", "sql", file.replace(/\.ts$/, "")]);
  t.regex(sql.stdout, /ALTER TABLE `local`\.`Readings` DROP CONSTRAINT `known_source`\n\s+ALTER TABLE `local`\.`Readings` DROP CONSTRAINT `plausible`\n\s+ALTER TABLE `local`\.`Readings` ADD CONSTRAINT `plausible` CHECK celsius > -90 AND celsius < 150/);
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);
  t.is((await runCli(dir, ["query", "INSERT INTO Readings VALUES ('r3', 100, 'c')", "--write"])).code, 0, "the wider check admits 100");
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);
  const back = await runCli(dir, ["migrate", "rollback"]);
  t.is(back.code, 0, back.stdout + back.stderr);
  const again = await runCli(dir, ["query", "SELECT create_table_query AS q FROM system.tables WHERE name = 'Readings'", "--format", "json"]);
  t.deepEqual(tableConstraints((JSON.parse(again.stdout) as Array<{ q: string }>)[0]!.q).map((c) => c.name), ["known_source", "plausible"]);
});

test("a constraint that is not { name, expression, type: CHECK | ASSUME } is an error at its line", (t) => {
  const dir = tempApp({
    "app/index.ts": `import { OlapTable, Key } from "moose-migrate";
interface R { id: Key<string>; n: number }
export const r = new OlapTable<R>("R", {
  constraints: [{ name: "c", expression: "n > 0", type: "VERIFY" as "CHECK" }],
});
`,
  });
  const [error] = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
  t.regex(error!.located, /^app\/index\.ts:4:\d+: .*type must be "CHECK"/);
});

test("the ClickHouse server: created and read back where it has CHECK constraints (19.14+), refused naming the version where not", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_constraints"));
  if (!config) {
    t.pass("CLICKHOUSE_URL is not set; .ci/run starts a ClickHouse server");
    return;
  }
  const engine = await openOlapEngine(config);
  try {
    const table: Table = { name: "Checked", columns: [{ name: "id", type: "String" }, { name: "n", type: "Int32" }], orderBy: ["id"], engine: { kind: "MergeTree" }, settings: {}, lifeCycle: "FULLY_MANAGED", constraints: [{ name: "positive", type: "CHECK", expression: "n > 0" }] };
    const caps = await engine.capabilities();
    if (caps.checkConstraints) {
      await applyToEngine(engine, emptyInfraMap(), createChanges(mapOf([table])));
      t.deepEqual((await engine.introspect()).tables.Checked?.constraints, [{ name: "positive", type: "CHECK", expression: "n > 0" }]);
    } else {
      const error = await t.throwsAsync(applyToEngine(engine, emptyInfraMap(), createChanges(mapOf([table]))));
      t.regex(error!.message, new RegExp(`ClickHouse ${caps.version.replace(/\./g, "\\.")} does not support CHECK constraints \\(ClickHouse 19\\.14\\+\\)`));
      t.deepEqual((await engine.introspect()).tables, {}, "nothing was created");
    }
  } finally {
    await engine.execute(`DROP DATABASE IF EXISTS ${config.database}`).catch(() => undefined);
    await engine.close();
  }
});
