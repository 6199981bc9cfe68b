import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers/cli.js";
import { startProd } from "./helpers/prod-instance.js";

// `moose prod` runs the app's code as dev does: transforms with dead letters, MooseCache, web apps.
const APP = `import { IngestPipeline, Api, MooseCache, WebApp, DeadLetterModel, OlapTable, cliLog } from "@514labs/moose-lib";

interface Foo { id: string; n: number }
interface Bar { id: string; doubled: number }

export const failed = new OlapTable<DeadLetterModel>("FooFailed", { orderByFields: ["failedAt"] });
export const foo = new IngestPipeline<Foo>("Foo", { table: false, stream: true, ingestApi: true, deadLetterQueue: { destination: failed } });
export const bar = new IngestPipeline<Bar>("Bar", { table: true, stream: true, ingestApi: false });

foo.stream!.addTransform(bar.stream!, (r) => {
  if (r.n < 0) throw new Error("negative " + r.id);
  return { id: r.id, doubled: r.n * 2 };
});

export const bars = new Api<{}, unknown>("bars", async (_p, { client, sql }) => {
  const cache = await MooseCache.get();
  const rows = await (await client.query.execute(sql\`SELECT id, doubled FROM \${bar.table!} ORDER BY id\`)).json();
  await cache.set("last", rows);
  return rows;
});
export const failures = new Api<{}, unknown>("failures", async (_p, { client, sql }) =>
  (await client.query.execute(sql\`SELECT errorMessage, source FROM \${failed}\`)).json(),
);

export const hello = new WebApp("hello", async (req, res) => {
  const cached = await (await MooseCache.get()).get<unknown[]>("last");
  cliLog({ action: "hello", message: "served " + req.url });
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ path: req.url, cachedRows: cached?.length ?? 0 }));
}, { mountPath: "/hello" });
`;

test("moose prod: ingest → transform → table, a throw → the dead-letter table, MooseCache and a plain-handler WebApp", async (t) => {
  const root = tempDir("prod-runtime");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  for (const args of [["migrate", "generate", "--name", "pipeline"], ["migrate", "deploy"]]) {
    const r = await runCli(dir, args);
    t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  }
  const prod = await startProd(dir);
  t.teardown(() => void prod.stop());
  const post = await fetch(`${prod.url}/ingest/Foo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ id: "a", n: 1 }, { id: "b", n: 2 }, { id: "x", n: -1 }]) });
  t.is(post.status, 200, await post.clone().text());

  let rows: unknown[] = [];
  let dead: unknown[] = [];
  for (let i = 0; i < 120 && (rows.length < 2 || dead.length < 1); i++) {
    rows = (await (await fetch(`${prod.url}/api/bars`)).json()) as unknown[];
    dead = (await (await fetch(`${prod.url}/api/failures`)).json()) as unknown[];
    if (rows.length < 2 || dead.length < 1) await new Promise((r) => setTimeout(r, 250));
  }
  t.deepEqual(rows, [
    { id: "a", doubled: 2 },
    { id: "b", doubled: 4 },
  ]);
  t.deepEqual(dead, [{ errorMessage: "negative x", source: "transform" }]);
  await prod.waitFor(/transform Foo → Bar failed on record Foo\/0@2: app\/index\.ts:11:\d+: Error: negative x; sent to FooDeadLetterQueue/);

  const hello = await fetch(`${prod.url}/hello/there?x=1`);
  t.is(hello.status, 200);
  t.deepEqual(await hello.json(), { path: "/there?x=1", cachedRows: 2 });
  await prod.waitFor("[hello] served /there?x=1");
});
