import test from "ava";
import { join } from "node:path";
import { runCli, initProject } from "./helpers/cli.js";

/** `moose ls --graph`: the lineage of the declared objects, as Mermaid and as DOT (offline: no engine). */

const APP = `import { IngestApi, MaterializedView, OlapTable, Stream, sql } from "moose-migrate";

interface Event {
  id: string;
  n: number;
}
interface Total {
  id: string;
  total: number;
}

export const events = new OlapTable<Event>("Events");
export const stream = new Stream<Event>("Events", { destination: events });
export const ingest = new IngestApi<Event>("events", { destination: stream });
export const totals = new OlapTable<Total>("Totals");
export const totalsMv = new MaterializedView<Total>({
  materializedViewName: "Totals_MV",
  targetTable: totals,
  selectStatement: sql\`SELECT id, sum(n) AS total FROM \${events} GROUP BY id\`,
  selectTables: [events],
});
`;

async function project(): Promise<string> {
  return initProject("graph", APP);
}

test("ingest API → topic → sync → table → view → table, as a Mermaid flowchart; the table and topic named Events are two nodes", async (t) => {
  const r = await runCli(await project(), ["ls", "--graph"]);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stdout,
    [
      "flowchart LR",
      '  api0[/"POST /ingest/events (api)"/]',
      '  topic1>"Events (topic)"]',
      '  table2[("Events (table)")]',
      '  table3[("Totals (table)")]',
      '  view4{{"Totals_MV (materialized view)"}}',
      "  api0 --> topic1",
      "  topic1 -->|sync| table2",
      "  table2 --> view4",
      "  view4 --> table3",
      "",
    ].join("\n"),
  );
});

test("a transform between two streams is an edge of the graph (read from the code: ingest → topic → transform → topic → sync → table)", async (t) => {
  const app = `import { IngestPipeline, OlapTable, Stream } from "moose-migrate";

interface Raw {
  id: string;
  n: number;
}
interface Clean {
  id: string;
  doubled: number;
}

export const raw = new IngestPipeline<Raw>("Raw", { table: false, stream: true, ingestApi: true });
export const cleanTable = new OlapTable<Clean>("Clean");
export const clean = new Stream<Clean>("Clean", { destination: cleanTable });
raw.stream!.addTransform(clean, (r: Raw): Clean => ({ id: r.id, doubled: r.n * 2 }));
`;
  const r = await runCli(await initProject("graph-transform", app), ["ls", "--graph"]);
  t.is(r.code, 0, r.stderr);
  const ids = new Map([...r.stdout.matchAll(/^ {2}([a-z]+\d+)\S*"([^"]+)"/gm)].map((m) => [m[2]!, m[1]!]));
  t.truthy(ids.get("Raw (topic)"), r.stdout);
  t.regex(r.stdout, new RegExp(`^  ${ids.get("Raw (topic)")} -->\\|transform\\| ${ids.get("Clean (topic)")}$`, "m"));
  t.regex(r.stdout, new RegExp(`^  ${ids.get("Clean (topic)")} -->\\|sync\\| ${ids.get("Clean (table)")}$`, "m"));
});

test("--format dot gives the same graph for Graphviz", async (t) => {
  const r = await runCli(await project(), ["ls", "--graph", "--format", "dot"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^digraph lineage \{\n  rankdir=LR;\n/);
  t.regex(r.stdout, /  "topic:Events" -> "table:Events" \[label="sync"\];\n/);
  t.regex(r.stdout, /  "table:Events" -> "view:Totals_MV";\n  "view:Totals_MV" -> "table:Totals";\n\}\n$/);
  t.is((await runCli(await project(), ["ls", "--graph", "--format", "png"])).code, 2);
});

test("--format svg: the drawing of the dev page, one box per node (the table and topic named Events apart) and an arrow per edge, columns in lineage order", async (t) => {
  const r = await runCli(await project(), ["ls", "--graph", "--format", "svg"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" class="lineage" width="\d+" height="\d+"/);
  const nodes = [...r.stdout.matchAll(/<g class="node" data-id="([^"]+)"[^>]*transform="translate\((\d+),(\d+)\)"/g)].map((m) => [m[1], Number(m[2])] as const);
  t.deepEqual(nodes.map(([id]) => id).sort(), ["api:ingest/events", "table:Events", "table:Totals", "topic:Events", "view:Totals_MV"]);
  const x = Object.fromEntries(nodes);
  t.true(x["api:ingest/events"]! < x["topic:Events"]! && x["topic:Events"]! < x["table:Events"]! && x["table:Events"]! < x["view:Totals_MV"]! && x["view:Totals_MV"]! < x["table:Totals"]!);
  t.deepEqual(
    [...r.stdout.matchAll(/<path class="edge" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => `${m[1]} → ${m[2]}`).sort(),
    ["api:ingest/events → topic:Events", "table:Events → view:Totals_MV", "topic:Events → table:Events", "view:Totals_MV → table:Totals"],
  );
  t.true(r.stdout.includes('<text class="edge-label"') && r.stdout.includes(">sync</text>"));
});

test("labels say what a reader calls each kind: a plain view is a view, a materialized view says so, a SQL resource is one", async (t) => {
  const app = `${APP.replace('import { IngestApi, MaterializedView, OlapTable, Stream, sql } from "moose-migrate";', 'import { IngestApi, MaterializedView, OlapTable, SqlResource, Stream, View, sql } from "moose-migrate";')}
export const big = new View("BigTotals", sql\`SELECT id, total FROM \${totals} WHERE total > 100\`, [totals]);
export const ids = new SqlResource("EventIds", ["CREATE VIEW event_ids AS SELECT id FROM Events"], ["DROP VIEW event_ids"], { pullsDataFrom: [events] });
`;
  const dir = await initProject("graph-labels", app);
  const mermaid = await runCli(dir, ["ls", "--graph"]);
  t.is(mermaid.code, 0, mermaid.stderr);
  for (const label of ["Totals_MV (materialized view)", "BigTotals (view)", "EventIds (SQL resource)"]) t.true(mermaid.stdout.includes(label), mermaid.stdout);
  t.false(/\((plainView|sqlResource)\)/.test(mermaid.stdout), mermaid.stdout);
  const dotOut = await runCli(dir, ["ls", "--graph", "--format", "dot"]);
  t.true(dotOut.stdout.includes('label="BigTotals\\n(view)"'), dotOut.stdout);
  const svg = await runCli(dir, ["ls", "--graph", "--format", "svg"]);
  t.true(svg.stdout.includes(">SQL resource</text>") && svg.stdout.includes('data-kind="sqlResource"'), svg.stdout);
});
