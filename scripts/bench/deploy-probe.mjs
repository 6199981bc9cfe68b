// Deploy benchmark pieces, each run in its own process (chDB holds one data folder per process):
//
//   node scripts/bench/deploy-probe.mjs make <projectDir> <count> [steps]   writes <count> committed migrations
//   node scripts/bench/deploy-probe.mjs deploy <projectDir> <out.json>
//       deploys them in-process with the engine already open; writes { deployMs, cpuMs, mainCpuMs, executeMs,
//       executeCalls, statements }: executeMs is the time spent inside the deploy engine's `execute` (the DDL);
//       cpuMs is the process's CPU (every thread: the engine's and the ledger's too), mainCpuMs the main
//       thread's alone (Linux /proc; null elsewhere), which the load of other jobs inflates least
//   node scripts/bench/deploy-probe.mjs raw <projectDir> <statements.json>
//       runs the same statements on a fresh engine, nothing else; prints { rawMs }
//   node scripts/bench/deploy-probe.mjs raw-ledger <projectDir> <statements.json>
//       servers only: the same statements on a fresh database, each followed by one ledger write (the three rows
//       `completeAndBegin` sends between two migrations, through the ledger's own store) and nothing else: the
//       floor of any ledger kept in the target that records each migration before the next one starts (what
//       makes a killed deploy resume exactly once); prints { totalMs, ddlMs, writeMs, writes }
//   node scripts/bench/deploy-probe.mjs breakdown <projectDir>
//       deploys with every ledger and engine call timed; prints { totalMs, calls: { "ledger.begin": [ms, n], ... } }; on a
//       server also the ledger's own engine ("ledger-engine.*") and its local mirror ("mirror.*"), which are inside the
//       ledger's calls, and the number of HTTP requests (time 0: only counted)
//   node scripts/bench/deploy-probe.mjs floor <projectDir> [n]
//       servers only: the round trips a deploy cannot do without, each timed n times (default 300) through the
//       project's own connection: `SELECT 1` (and through @clickhouse/client, with CPU per request), and one ledger write (the three rows `completeAndBegin` sends
//       between two migrations) into `_moose_ledger` as the ledger makes and writes it (MergeTree, two stored
//       columns) and, for comparison, into the first layout's nine stored columns; prints
//       { n, select1: {median, p10, p90}, insertMergeTree: …, insertColumns: … }
//
// The project's moose.config.toml decides the engine and so the ledger: embedded (chDB, ledger in
// .moose/ledger.sqlite) or a ClickHouse server (`host` set: the ledger kept in the target, see
// lib/ledger/target.ts). On a server, `deploy`, `raw` and `breakdown` start by dropping the project's
// database and end by dropping it again (untimed; 18.16 can take minutes to drop 1,000 tables, so give each
// run its own database: MOOSE_CLICKHOUSE_CONFIG__DB_NAME=<name>, as `npm run bench` does).
//
// steps = 1 (default): each migration creates one table of 10 columns. steps = 2: it also adds a
// column to the previous table (two DDL statements, the drift check touching two tables).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const [mode, dirArg, arg] = process.argv.slice(2);
const dir = resolve(dirArg ?? ".");

function table(name, extra = []) {
  const columns = [{ name: "id", type: "String" }];
  for (let c = 1; c < 10; c++) columns.push({ name: `c${c}`, type: c % 3 === 0 ? "Float64" : c % 3 === 1 ? "String" : "DateTime('UTC')" });
  return { name, columns: [...columns, ...extra], orderBy: ["id"], engine: { kind: "MergeTree" }, settings: {}, lifeCycle: "FULLY_MANAGED" };
}

async function make(count, steps) {
  const { diff } = await import(dist("lib/diff/diff.js"));
  const { plan } = await import(dist("lib/plan/plan.js"));
  const { renderMigration } = await import(dist("lib/migrations/files/render.js"));
  const { emptyInfraMap, hashInfraMap } = await import(dist("lib/model/infra-map.js"));
  const migrations = join(dir, "migrations");
  rmSync(migrations, { recursive: true, force: true });
  mkdirSync(migrations, { recursive: true });
  let state = emptyInfraMap();
  const base = Date.UTC(2026, 0, 1);
  for (let k = 1; k <= count; k++) {
    const tables = { ...state.tables, [`T${k}`]: table(`T${k}`) };
    if (k > 1 && steps > 1) tables[`T${k - 1}`] = table(`T${k - 1}`, [{ name: `added${k}`, type: "Nullable(String)" }]);
    const next = { ...state, tables };
    const changes = diff(state, next);
    const stamp = new Date(base + k * 1000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const id = `${stamp}_step_${k}`;
    const text = renderMigration({ id, plan: plan(changes, { from: state, to: next }), parent: hashInfraMap(state), result: hashInfraMap(next), toolVersion: "bench" });
    writeFileSync(join(migrations, `${id}.ts`), text);
    state = next;
  }
}

/** On a server, the project's database (tables, ledger, lock) goes: every run starts from nothing, as on the embedded engine. */
async function fresh(config) {
  rmSync(join(dir, ".moose"), { recursive: true, force: true });
  await dropDatabase(config);
}

/** A server's project database goes, and is waited for: 18.16 takes minutes to drop 1,000 tables. */
async function dropDatabase(config) {
  if (config.olap.engine !== "server") return;
  const { host, port, user, password, useSsl, database } = config.olap;
  const ask = (query, timeoutMs) =>
    fetch(`${useSsl ? "https" : "http"}://${host}:${port}/`, {
      method: "POST",
      body: query,
      headers: { "X-ClickHouse-User": user, "X-ClickHouse-Key": password },
      signal: AbortSignal.timeout(timeoutMs),
    }).then((r) => r.text());
  // The server goes on dropping after the request gives up.
  await ask(`DROP DATABASE IF EXISTS \`${database}\``, 30_000).catch(() => undefined);
  for (let i = 0; i < 600; i++) {
    if ((await ask(`SELECT count() FROM system.databases WHERE name = '${database}'`, 30_000)).trim() === "0") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  process.stderr.write(`deploy-probe: ${database} was not dropped within 10 minutes\n`);
}

async function deployTimed(out) {
  const { loadConfig } = await import(dist("lib/config/config.js"));
  const { deploy } = await import(dist("lib/migrations/apply/deploy.js"));
  const { openDeployEngines, projectLedger, projectMigrations } = await import(dist("lib/project/engines.js"));
  const config = await loadConfig(dir, process.env);
  await fresh(config);
  const files = projectMigrations(config);
  const ledger = await projectLedger(config, "bench");
  const engines = await openDeployEngines(config, { streams: false, workflows: false });
  await engines.olap.capabilities();
  // The DDL's own time, as this deploy runs it: everything else in the deploy is overhead.
  const execute = engines.olap.execute.bind(engines.olap);
  let executeMs = 0;
  let executeCalls = 0;
  engines.olap.execute = async (sql) => {
    const t = performance.now();
    try {
      return await execute(sql);
    } finally {
      executeMs += performance.now() - t;
      executeCalls++;
    }
  };
  const statements = [];
  const main0 = mainThreadCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await deploy(files, ledger, async () => ({ ...engines, close: async () => {} }), {
    onEvent: (e) => {
      if (e.kind === "step-done") statements.push(...e.statements);
    },
  });
  const deployMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuMs();
  await engines.close();
  await ledger.close();
  if (!report.ok || report.migrations.some((m) => m.status !== "applied")) throw new Error(`deploy failed: ${JSON.stringify(report.migrations.find((m) => m.status !== "applied"))}`);
  writeFileSync(out, JSON.stringify({ deployMs, cpuMs: (cpu.user + cpu.system) / 1000, mainCpuMs: main0 === null || main1 === null ? null : main1 - main0, executeMs, executeCalls, migrations: files.length, engine: config.olap.engine, statements }));
  await dropDatabase(config);
}

/** CPU time of this process's main thread so far (user + system, in clock ticks of 10 ms); null without Linux's /proc. */
function mainThreadCpuMs() {
  try {
    // Fields after the command name: state is the 3rd of stat, utime and stime the 14th and 15th.
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
    // Linux reports them in USER_HZ, 100 a second.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Where a deploy's time goes: every ledger method and engine call, timed. */
async function breakdown() {
  const { loadConfig } = await import(dist("lib/config/config.js"));
  const { deploy } = await import(dist("lib/migrations/apply/deploy.js"));
  const { openDeployEngines, projectLedger, projectMigrations } = await import(dist("lib/project/engines.js"));
  const config = await loadConfig(dir, process.env);
  await fresh(config);
  const files = projectMigrations(config);
  const ledger = await projectLedger(config, "bench");
  const engines = await openDeployEngines(config, { streams: false, workflows: false });
  await engines.olap.capabilities();
  const calls = {};
  // A synchronous method stays synchronous (the ledger passes `mirror.now()`'s value on: a
  // promise there would be a different record, written again).
  const wrap = (obj, name, label) => {
    const f = obj[name].bind(obj);
    obj[name] = (...a) => {
      const t = performance.now();
      const done = () => {
        const c = (calls[`${label}.${name}`] ??= [0, 0]);
        c[0] += performance.now() - t;
        c[1]++;
      };
      let result;
      try {
        result = f(...a);
      } catch (error) {
        done();
        throw error;
      }
      if (result && typeof result.then === "function") return result.finally(done);
      done();
      return result;
    };
  };
  for (const m of Object.getOwnPropertyNames(Object.getPrototypeOf(ledger))) if (m !== "constructor" && typeof ledger[m] === "function") wrap(ledger, m, "ledger");
  for (const m of ["execute", "query", "introspect"]) wrap(engines.olap, m, "engine");
  // A server target's ledger: the engine it keeps its records in (its own connection) and its local mirror.
  if (ledger.olap) for (const m of ["execute", "query", "insertJsonRows"]) wrap(ledger.olap, m, "ledger-engine");
  if (ledger.mirror) for (const m of Object.getOwnPropertyNames(Object.getPrototypeOf(ledger.mirror))) if (m !== "constructor" && typeof ledger.mirror[m] === "function") wrap(ledger.mirror, m, "mirror");
  // Every HTTP request to a server, whichever connection sends it.
  const { default: http } = await import("node:http");
  const request = http.request;
  http.request = (...a) => {
    const c = (calls["http requests (count only, time is in the calls above)"] ??= [0, 0]);
    c[1]++;
    return request(...a);
  };
  const t0 = performance.now();
  await deploy(files, ledger, async () => ({ ...engines, close: async () => {} }), {});
  const totalMs = performance.now() - t0;
  http.request = request;
  const during = structuredClone(calls);
  await engines.close();
  await ledger.close();
  process.stdout.write(JSON.stringify({ totalMs, migrations: files.length, calls: during }) + "\n");
  await dropDatabase(config);
}

async function raw(statementsFile) {
  const { loadConfig } = await import(dist("lib/config/config.js"));
  const { openOlapEngine } = await import(dist("lib/engines/olap/open.js"));
  const config = await loadConfig(dir, process.env);
  await fresh(config);
  const { statements } = JSON.parse(readFileSync(statementsFile, "utf8"));
  const engine = await openOlapEngine(config.olap);
  await engine.capabilities();
  const t0 = performance.now();
  for (const sql of statements) if (!sql.startsWith("--")) await engine.execute(sql);
  const rawMs = performance.now() - t0;
  await engine.close();
  process.stdout.write(JSON.stringify({ rawMs, statements: statements.length }) + "\n");
  await dropDatabase(config);
}

/** The three rows `completeAndBegin` writes between two migrations (seq from `next`). */
function handoffRows(next) {
  const record = (id) => ({ id, fileName: `${id}.ts`, checksum: "0".repeat(64), checksumAlgorithm: "sha256", parentHash: "1".repeat(64), resultHash: "2".repeat(64), status: "running", stepsApplied: 0, stepsTotal: 1, startedAt: new Date().toISOString(), toolVersion: "bench" });
  const step = (id) => ({ migrationId: id, index: 0, status: "applied", statements: [`CREATE TABLE \`${id}\` (id String, c1 String, c2 DateTime('UTC'), c3 Float64) ENGINE = MergeTree ORDER BY id`], startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), error: null });
  return ["step_done", "begin", "step_started"].map((op, k) => {
    const seq = next();
    return { seq, at: new Date().toISOString(), op, migration_id: `m${seq}`, step_index: k === 1 ? -1 : 0, migration: record(`m${seq}`), step: k === 1 ? undefined : step(`m${seq}`), host: "bench", tool_version: "bench" };
  });
}

/** The deploy's DDL with one ledger write after each statement and nothing else (see the header). */
async function rawLedger(statementsFile) {
  const { loadConfig } = await import(dist("lib/config/config.js"));
  const { openOlapEngine } = await import(dist("lib/engines/olap/open.js"));
  const { LedgerStore } = await import(dist("lib/engines/olap/ledger-store.js"));
  const config = await loadConfig(dir, process.env);
  if (config.olap.engine !== "server") throw new Error("raw-ledger: the project's moose.config.toml names no ClickHouse server");
  await fresh(config);
  const { statements } = JSON.parse(readFileSync(statementsFile, "utf8"));
  const engine = await openOlapEngine(config.olap);
  await engine.capabilities();
  const store = new LedgerStore(engine);
  await store.ensureLog();
  let seq = 0;
  let ddlMs = 0;
  let writeMs = 0;
  let writes = 0;
  const t0 = performance.now();
  for (const sql of statements) {
    if (sql.startsWith("--")) continue;
    const t = performance.now();
    await engine.execute(sql);
    const u = performance.now();
    await store.append(handoffRows(() => ++seq));
    ddlMs += u - t;
    writeMs += performance.now() - u;
    writes++;
  }
  const totalMs = performance.now() - t0;
  await engine.close();
  process.stdout.write(JSON.stringify({ totalMs, ddlMs, writeMs, writes }) + "\n");
  await dropDatabase(config);
}

/** The floor of a server target's ledger: one request, and one ledger write, as the deploy sends them. */
async function floor(n) {
  const { loadConfig } = await import(dist("lib/config/config.js"));
  const { openOlapEngine } = await import(dist("lib/engines/olap/open.js"));
  const config = await loadConfig(dir, process.env);
  if (config.olap.engine !== "server") throw new Error("floor: the project's moose.config.toml names no ClickHouse server");
  await fresh(config);
  const engine = await openOlapEngine(config.olap);
  // The ledger's own table and write path (record layout), and for comparison the first layout's nine stored columns.
  const { LedgerStore } = await import(dist("lib/engines/olap/ledger-store.js"));
  const store = new LedgerStore(engine);
  await store.ensureLog();
  const columns = "seq UInt64, at String, op String, migration_id String, step_index Int32, migration String, step String, host String, tool_version String";
  await engine.execute(`CREATE TABLE floor_columns (${columns}) ENGINE = MergeTree ORDER BY seq`);
  let seq = 0;
  const rows = () => handoffRows(() => ++seq);
  const columnRows = () => rows().map((r) => ({ ...r, migration: JSON.stringify(r.migration), step: r.step === undefined ? "" : JSON.stringify(r.step) }));
  const timed = async (f) => {
    for (let i = 0; i < 10; i++) await f();
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await f();
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
    return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
  };
  // The same round trip through @clickhouse/client with the options the connection used before its own
  // transport (lib/engines/olap/server-http.ts says why it has one).
  const { createClient, ClickHouseLogLevel } = await import("@clickhouse/client");
  const { host, port, user, password, useSsl, database } = config.olap;
  const client = createClient({
    url: `${useSsl ? "https" : "http"}://${host}:${port}`,
    username: user,
    password,
    database,
    request_timeout: 120_000,
    application: "moose-migrate",
    keep_alive: { enabled: true, idle_socket_ttl: 1500, eagerly_destroy_stale_sockets: true },
    log: { level: ClickHouseLogLevel.OFF },
  });
  const cpu = async (f) => {
    const c0 = process.cpuUsage();
    const wall = await timed(f);
    const c = process.cpuUsage(c0);
    return { ...wall, cpuPerRequest: (c.user + c.system) / 1000 / (n + 10) };
  };
  const result = {
    n,
    select1: await cpu(() => engine.query("SELECT 1 AS x")),
    select1Client: await cpu(async () => (await client.query({ query: "SELECT 1 AS x", format: "JSONEachRow" })).json()),
    insertMergeTree: await timed(() => store.append(rows())),
    insertColumns: await timed(() => engine.insertJsonRows("floor_columns", columnRows())),
  };
  await client.close();
  await engine.close();
  process.stdout.write(JSON.stringify(result) + "\n");
  await dropDatabase(config);
}

if (mode === "make") await make(Number(arg ?? 100), Number(process.argv[5] ?? 1));
else if (mode === "deploy") await deployTimed(resolve(arg));
else if (mode === "raw") await raw(resolve(arg));
else if (mode === "raw-ledger") await rawLedger(resolve(arg));
else if (mode === "breakdown") await breakdown();
else if (mode === "floor") await floor(Number(arg ?? 300));
else {
  process.stderr.write("usage: deploy-probe.mjs make|deploy|raw|raw-ledger|breakdown|floor <projectDir> <arg>\n");
  process.exit(2);
}
