// The benchmark suite: `npm run bench` (builds first), or `node scripts/bench/run.mjs [options]`.
//
//   --quick            sizes 10 and 100, 3 runs per figure, 20 migrations to deploy (about 2 minutes)
//   --sizes 10,100     table counts of the synthetic apps (default 10,100,1000)
//   --runs N           runs per figure (default 5; `--help` gets 3N)
//   --deploy N         pending single-step migrations for the deploy figures (default 1000; quick: 20)
//   --deploy-runs N    runs of the deploy on the ClickHouse server (default min(runs, 3): each drops 1,000 tables after)
//   --out FILE         where to write the report (default BENCHMARKS.md; `-` for stdout only)
//   --work DIR         where the apps are generated (default: a fresh folder in the OS temp dir, removed after)
//   --history N        committed migrations after the first for the history figures (default 200; quick: 40)
//   --only LIST        only these figure groups: help,tsc,plan,generate,reextract,dev,deploy,deploy-server,history,peers,template
//                      (the report then lacks the others; for iterating, not for BENCHMARKS.md). deploy-server runs
//                      on the ClickHouse server at $CLICKHOUSE_URL (the tests' 18.16), with the ledger kept in it.
//
// Every figure is a separate process started the way a user starts it (cold: no warm
// process, no cache of the app), timed from spawn to exit; the report gives the median,
// the min–max of the runs, and the command to reproduce it. The generated apps never
// land in the repository.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join, relative, resolve } from "node:path";
import { drizzlePackage, generateApp, PACKAGE_ROOT } from "./generate-app.mjs";

const args = parseArgs(process.argv.slice(2));
const quick = Boolean(args.quick);
const SIZES = (args.sizes ?? (quick ? "10,100" : "10,100,1000")).split(",").map(Number);
const RUNS = Number(args.runs ?? (quick ? 3 : 5));
const DEPLOY_COUNT = Number(args.deploy ?? (quick ? 20 : 1000));
const DEPLOY_SERVER_RUNS = Number(args["deploy-runs"] ?? Math.min(RUNS, 3));
const OUT = args.out ?? join(PACKAGE_ROOT, "BENCHMARKS.md");
const WORK = args.work ? resolve(args.work) : mkdtempSync(join(os.tmpdir(), "moose-bench-"));
const BIN = join(PACKAGE_ROOT, "dist", "cli", "bin.js");
const TSC = join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc");
const USAGE_PRELOAD = join(PACKAGE_ROOT, "scripts", "bench", "report-usage.cjs");
const DEV_EDITS = quick ? 5 : 10;
const HISTORY = Number(args.history ?? (quick ? 40 : 200));
/** Committed migrations after the first (the one creating every table) at which plan is timed. */
const HISTORY_POINTS = [0, 10, 40, 100, 200, 400].filter((k) => k <= HISTORY);
const ONLY = args.only ? new Set(args.only.split(",")) : undefined;
const wanted = (group) => !ONLY || ONLY.has(group);

/** Targets of the issue, by figure id. */
const TARGETS = {
  help: { max: 150, text: "≤ 150 ms" },
  "dev-100": { max: 250, text: "≤ 250 ms" },
  "dev-1000": { max: 1000, text: "≤ 1 s" },
  "generate-vs-tsc": { max: 1.2, text: "≤ 1.2 × tsc (stand-in)" },
  "types-overhead": { max: 1.3, text: "≤ 1.3 × tsc (stand-in), i.e. ≤ +30 %" },
  "deploy-overhead": { max: 3, text: "≤ 3 ms per migration" },
  "dev-rss-1000": { max: 500, text: "≤ 500 MB" },
  "plan-history": { max: 1.0, text: "≤ 1.0 × tsc (stand-in)" },
  "plan-one-file": { max: 0.5, text: "≤ 0.5 × tsc (stand-in)" },
  "history-growth": { max: 1.1, text: "none: ≤ 1.1 × the 10-migration figure" },
};

if (!existsSync(BIN)) {
  process.stderr.write("dist/cli/bin.js is missing: run `npm run build` first (npm run bench does)\n");
  process.exit(1);
}

const results = [];
const loads = [];
const started = new Date();

function log(text) {
  process.stderr.write(`[bench] ${text}\n`);
}

function noteLoad(when) {
  loads.push({ when, load: os.loadavg().map((l) => l.toFixed(2)).join(" / ") });
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === "quick" || key === "keep") out[key] = true;
    else out[key] = argv[++i];
  }
  return out;
}

// ---- measuring -------------------------------------------------------------

/** Runs a command once; resolves with its wall time, exit code, output and (with `usage`) peak RSS and CPU. */
function runOnce(cmd, argv, { cwd, usage = false, env = {} } = {}) {
  const usageFile = usage ? join(WORK, `usage-${process.pid}-${Math.random().toString(36).slice(2)}.jsonl`) : undefined;
  const nodeArgs = usage ? ["--require", USAGE_PRELOAD, ...argv] : argv;
  return new Promise((resolveRun, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, nodeArgs, { cwd, env: { ...process.env, FORCE_COLOR: "0", ...(usageFile ? { MOOSE_BENCH_USAGE_FILE: usageFile } : {}), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let u;
      if (usageFile && existsSync(usageFile)) {
        u = JSON.parse(readFileSync(usageFile, "utf8").trim().split("\n")[0]);
        rmSync(usageFile, { force: true });
      }
      resolveRun({ ms, code, stdout, stderr, rssMb: u ? u.maxRssKb / 1024 : undefined, cpuMs: u ? u.userMs + u.systemMs : undefined });
    });
  });
}

function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  const q = (p) => {
    const i = (v.length - 1) * p;
    const lo = Math.floor(i);
    return v[lo] + (v[Math.ceil(i)] - v[lo]) * (i - lo);
  };
  return { n: v.length, median: q(0.5), min: v[0], max: v[v.length - 1], q1: q(0.25), q3: q(0.75) };
}

/**
 * Times `runs` runs of each command (after `warmup` unmeasured ones, which only warm
 * the OS file cache). The commands take turns, run by run, so that a burst of load
 * from other jobs weighs on all of them alike and their ratios stay meaningful.
 * `before` runs, unmeasured, before each run of its command.
 */
async function measureTogether(specs) {
  const state = specs.map((spec) => ({ spec, walls: [], cpus: [], rss: [] }));
  for (const { spec } of state) log(`${spec.label}${spec.size !== undefined ? ` @ ${spec.size}` : ""} (${spec.runs ?? RUNS} runs)`);
  const rounds = Math.max(...specs.map((s) => (s.warmup ?? 1) + (s.runs ?? RUNS)));
  for (let i = 0; i < rounds; i++) {
    for (const st of state) {
      const { cmd = process.execPath, argv, cwd, runs = RUNS, warmup = 1, before, usage = true, expectCode = 0, label, env } = st.spec;
      if (i >= warmup + runs) continue;
      if (before) before();
      const r = await runOnce(cmd, argv, { cwd, usage, env });
      if (r.code !== expectCode) throw new Error(`${label}: exit ${r.code} (expected ${expectCode})\n${r.stderr.slice(0, 2000)}${r.stdout.slice(0, 500)}`);
      if (i < warmup) continue;
      st.walls.push(r.ms);
      if (r.cpuMs !== undefined) st.cpus.push(r.cpuMs);
      if (r.rssMb !== undefined) st.rss.push(r.rssMb);
    }
  }
  return state.map(({ spec, walls, cpus, rss }) => {
    const result = { id: spec.id, label: spec.label, size: spec.size, unit: "ms", wall: stats(walls), cpu: cpus.length ? stats(cpus) : undefined, rss: rss.length ? stats(rss) : undefined, command: spec.display };
    results.push(result);
    return result;
  });
}

async function measure(id, label, size, spec) {
  const [result] = await measureTogether([{ id, label, size, ...spec }]);
  return result;
}

function record(id, label, size, fields) {
  const result = { id, label, size, ...fields };
  results.push(result);
  return result;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- figures ---------------------------------------------------------------

async function benchHelp() {
  const runs = RUNS * 3;
  await measureTogether([
    { id: "node-baseline", label: "`node -e 0` (Node.js start-up, the floor)", argv: ["-e", "0"], runs, usage: false, display: "node -e 0" },
    { id: "help", label: "`moose --help` cold start", argv: [BIN, "--help"], runs, usage: false, display: "moose --help" },
    { id: "version", label: "`moose --version` cold start", argv: [BIN, "--version"], runs, usage: false, display: "moose --version" },
  ]);
  const probe = join(PACKAGE_ROOT, "scripts", "bench", "ts-load-probe.mjs");
  await measureTogether([
    { id: "ts-esm", label: "load the TypeScript compiler with `import` (ES module)", argv: [probe, "esm"], usage: false, display: "node scripts/bench/ts-load-probe.mjs esm" },
    { id: "ts-require", label: "load the TypeScript compiler with `require`", argv: [probe, "require"], usage: false, display: "node scripts/bench/ts-load-probe.mjs require" },
    { id: "ts-cached", label: "load the TypeScript compiler with `require` and the V8 code cache (lib/extract/typescript.cts)", argv: [probe, "cached"], usage: false, display: "node scripts/bench/ts-load-probe.mjs cached" },
  ]);
}

async function benchSize(size) {
  const app = join(WORK, `app-${size}`);
  const standin = join(WORK, `standin-${size}`);
  const summary = generateApp({ tables: size, out: app });
  generateApp({ tables: size, out: standin, variant: "standin" });
  record("app", "synthetic app", size, { summary });
  noteLoad(`before the ${size}-table figures`);

  const clearMigrations = () => {
    const dir = join(app, "migrations");
    for (const f of readdirSync(dir)) if (f.endsWith(".ts")) rmSync(join(dir, f));
  };
  const specs = [];
  if (wanted("tsc")) {
    specs.push({ id: "tsc-standin", label: "`tsc --noEmit`, same interfaces with a one-line stand-in class", size, argv: [TSC, "-p", standin], cwd: standin, display: `node scripts/bench/generate-app.mjs --tables ${size} --variant standin --out /tmp/s${size} && tsc -p /tmp/s${size}` });
    specs.push({ id: "tsc-app", label: "`tsc --noEmit` on the app (with moose-migrate's types)", size, argv: [TSC, "-p", app], cwd: app, display: `node scripts/bench/generate-app.mjs --tables ${size} --out /tmp/a${size} && tsc -p /tmp/a${size}` });
  }
  if (wanted("plan")) specs.push({ id: "plan", label: "cold `moose plan`", size, argv: [BIN, "plan"], cwd: app, display: `cd /tmp/a${size} && moose plan` });
  if (wanted("generate")) {
    specs.push({ id: "generate", label: "cold `moose migrate generate`", size, argv: [BIN, "migrate", "generate"], cwd: app, before: clearMigrations, display: `cd /tmp/a${size} && rm -f migrations/*.ts && moose migrate generate` });
    specs.push({
      id: "generate-nocache",
      label: "cold `moose migrate generate` without the TypeScript code cache",
      size,
      argv: [BIN, "migrate", "generate"],
      cwd: app,
      env: { MOOSE_NO_COMPILE_CACHE: "1" },
      before: clearMigrations,
      display: `cd /tmp/a${size} && rm -f migrations/*.ts && MOOSE_NO_COMPILE_CACHE=1 moose migrate generate`,
    });
  }
  if (specs.length > 0) await measureTogether(specs);
  if (wanted("tsc") && size === Math.max(...SIZES)) await typeCounts(size, app, standin);
  clearMigrations();
  if (wanted("reextract")) await benchReextract(size, app);
  if (wanted("dev")) await benchDev(size, app);
}

/** What the checker builds for each variant (`tsc --extendedDiagnostics`): counts do not depend on the machine's load. */
async function typeCounts(size, app, standin) {
  const counts = {};
  for (const [variant, dir] of [["app", app], ["standin", standin]]) {
    const r = await runOnce(process.execPath, [TSC, "-p", dir, "--extendedDiagnostics"], { cwd: dir });
    const get = (name) => Number(new RegExp(`^${name}:\\s+([\\d.]+)`, "m").exec(r.stdout)?.[1]);
    counts[variant] = { types: get("Types"), instantiations: get("Instantiations"), symbols: get("Symbols"), memoryKb: get("Memory used") };
  }
  record("type-counts", "what the type checker builds", size, { counts });
}

/** The extraction part of a dev-loop save, in-process: what lib/extract costs per one-column edit. */
async function benchReextract(size, app) {
  log(`re-extract after a one-column edit @ ${size}`);
  const r = await runOnce(process.execPath, [join(PACKAGE_ROOT, "scripts", "bench", "extract-probe.mjs"), app, String(Math.max(RUNS, 7)), "--json"], { cwd: app, usage: true });
  if (r.code !== 0) throw new Error(`extract-probe failed: ${r.stderr}`);
  const probe = JSON.parse(r.stdout.trim().split("\n").at(-1));
  record("reextract", "re-extraction after a one-column edit (in-process, warm Program; part of the dev loop)", size, {
    unit: "ms",
    wall: stats(probe.edits),
    command: `node scripts/bench/extract-probe.mjs /tmp/a${size} 7`,
  });
  record("extract-rss", "peak RSS of extraction alone (one cold extract and the re-extractions above)", size, {
    unit: "MB",
    value: r.rssMb,
    command: `node --require ./scripts/bench/report-usage.cjs scripts/bench/extract-probe.mjs /tmp/a${size} 7`,
  });
}

/**
 * The dev loop: `moose dev` on a copy of the app; each edit adds one column to a
 * model file and is timed from the file write to the line `moose dev` prints after
 * the change is applied and its ledger row (the `.draft` migration) is committed.
 */
async function benchDev(size, app) {
  await benchEngineRss(size);
  const dir = join(WORK, `dev-${size}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(app, dir, { recursive: true, verbatimSymlinks: true });
  const port = await freePort();
  const usageFile = join(WORK, `dev-usage-${size}.jsonl`);
  rmSync(usageFile, { force: true });
  log(`moose dev @ ${size}: starting`);
  const child = spawn(process.execPath, ["--require", USAGE_PRELOAD, BIN, "dev", "--port", String(port)], {
    cwd: dir,
    env: { ...process.env, FORCE_COLOR: "0", MOOSE_BENCH_USAGE_FILE: usageFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let exited;
  const waiters = [];
  const lines = [];
  child.stdout.on("data", (c) => {
    out += c;
    const parts = out.split("\n");
    out = parts.pop();
    for (const line of parts) {
      lines.push({ at: process.hrtime.bigint(), line });
      for (const w of [...waiters]) w();
    }
  });
  child.stderr.on("data", (c) => (err += c));
  const exit = new Promise((r) => child.on("close", (code) => r((exited = code ?? 1))));
  /** Resolves with the first line after index `from` matching `re`, or undefined on exit/timeout. */
  const waitFor = (re, from, timeoutMs) =>
    new Promise((resolveLine) => {
      const deadline = setTimeout(() => done(undefined), timeoutMs);
      const check = () => {
        for (let i = from; i < lines.length; i++) if (re.test(lines[i].line)) return done(lines[i]);
        if (exited !== undefined) done(undefined);
      };
      function done(v) {
        clearTimeout(deadline);
        const k = waiters.indexOf(check);
        if (k >= 0) waiters.splice(k, 1);
        resolveLine(v);
      }
      waiters.push(check);
      exit.then(check);
      check();
    });

  const ready = await waitFor(/The database matches the code|✓ applied \d+ step/, 0, 600_000);
  if (!ready) {
    child.kill("SIGKILL");
    await exit;
    const text = `${err}${out}`.trim();
    const notImplemented = /not implemented/i.test(text);
    const reason = notImplemented ? "not measured yet: moose dev not implemented" : `not measured: moose dev did not start (${text.split("\n").slice(0, 3).join(" ").slice(0, 200)})`;
    log(`moose dev @ ${size}: ${reason}`);
    record("dev", "dev loop: save to applied (one-column change)", size, { missing: reason });
    record("dev-rss", "peak RSS of `moose dev`", size, { missing: reason });
    return;
  }
  // The file watcher starts after the first cycle; give it time to settle.
  await sleep(1500);
  const models = readdirSync(join(dir, "app", "models")).sort();
  const file = join(dir, "app", "models", models[Math.floor(models.length / 2)]);
  let text = readFileSync(file, "utf8");
  const times = [];
  let failure;
  for (let i = 0; i < DEV_EDITS && !failure; i++) {
    text = text.replace(/\n}\n/, `\n  bench_added_${i}: string;\n}\n`);
    const from = lines.length;
    const t0 = process.hrtime.bigint();
    writeFileSync(file, text);
    const applied = await waitFor(/✓ applied \d+ step|✗|error/, from, 60_000);
    if (!applied || !/✓ applied/.test(applied.line)) failure = applied ? applied.line : "no answer within 60 s";
    else times.push(Number(applied.at - t0) / 1e6);
    await sleep(300);
  }
  child.kill("SIGINT");
  const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exit;
  clearTimeout(killer);
  const usage = existsSync(usageFile) ? JSON.parse(readFileSync(usageFile, "utf8").trim().split("\n")[0]) : undefined;
  const command = `cd /tmp/a${size} && moose dev  # then add a column to a model file`;
  if (failure || times.length === 0) record("dev", "dev loop: save to applied (one-column change)", size, { missing: `not measured: ${failure}` });
  else record("dev", "dev loop: save to applied (one-column change)", size, { unit: "ms", wall: stats(times), command });
  if (usage) record("dev-rss", "peak RSS of `moose dev` (start, initial apply, edits)", size, { unit: "MB", value: usage.maxRssKb / 1024, command });
  else record("dev-rss", "peak RSS of `moose dev`", size, { missing: "not measured: moose dev did not report its usage at exit" });
}

/** What the embedded engine alone takes: the floor under `moose dev`'s RSS with the default engines. */
async function benchEngineRss(size) {
  const dir = join(WORK, `engine-${size}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "moose.config.toml"), `[moose]\nmain_file = "app/index.ts"\n`);
  log(`embedded engine with ${size} tables: peak RSS`);
  const r = await runOnce(process.execPath, [join(PACKAGE_ROOT, "scripts", "bench", "engine-probe.mjs"), dir, String(size)], { cwd: dir, usage: true });
  if (r.code !== 0) throw new Error(`engine-probe failed: ${r.stderr}`);
  const split = r.stdout.trim() ? JSON.parse(r.stdout.trim().split("\n").at(-1)) : undefined;
  const fileBacked = split ? ` (${fmt(split.fileBackedMb, "MB")} of it file-backed at the end, mostly chDB's code)` : "";
  record("engine-rss", `peak RSS of a process that only opens the embedded engine (chDB) and creates ${size} tables of 31 columns${fileBacked}`, size, {
    unit: "MB",
    value: r.rssMb,
    ...(split ? { fileBackedMb: split.fileBackedMb } : {}),
    command: `node --require ./scripts/bench/report-usage.cjs scripts/bench/engine-probe.mjs DIR ${size}`,
  });
  rmSync(dir, { recursive: true, force: true });
  if (!find("node-rss")) {
    const node = await runOnce(process.execPath, ["-e", "0"], { usage: true });
    record("node-rss", "peak RSS of `node -e 0` (Node.js alone, part of every figure above)", undefined, { unit: "MB", value: node.rssMb, command: "node --require ./scripts/bench/report-usage.cjs -e 0" });
  }
}

/** A project folder for the deploy figures: `server` set, its ledger is kept in that ClickHouse server. */
function deployProject(name, server) {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const url = server ? new URL(server) : undefined;
  const clickhouse = url
    ? `\n[clickhouse_config]\nhost = "${url.hostname}"\nhost_port = ${url.port || 8123}\nuser = "${decodeURIComponent(url.username) || "default"}"\npassword = "${decodeURIComponent(url.password)}"\ndb_name = "bench_deploy"\n`
    : "";
  writeFileSync(join(dir, "moose.config.toml"), `[moose]\nmain_file = "app/index.ts"\n${clickhouse}`);
  return dir;
}

/**
 * Deploy at scale: DEPLOY_COUNT pending single-step migrations (each creates a 10-column table)
 * deployed in-process with the engine open. The overhead per migration is the deploy's time
 * minus the time its engine spent in `execute` (the DDL itself, timed in the same run), over
 * the migrations; the same statements run alone on a fresh engine are the cross-check.
 */
async function benchDeploy() {
  const dir = deployProject("deploy");
  const probe = join(PACKAGE_ROOT, "scripts", "bench", "deploy-probe.mjs");
  const made = await runOnce(process.execPath, [probe, "make", dir, String(DEPLOY_COUNT)], { cwd: dir });
  if (made.code !== 0) throw new Error(`deploy-probe make failed: ${made.stderr}`);
  noteLoad("before the deploy figures");
  log(`deploy of ${DEPLOY_COUNT} migrations (${RUNS} runs)`);
  const runs = [];
  const rawMs = [];
  const out = join(WORK, "deploy-statements.json");
  for (let i = 0; i < RUNS; i++) {
    const d = await runOnce(process.execPath, [probe, "deploy", dir, out], { cwd: dir });
    if (d.code !== 0) throw new Error(`deploy-probe deploy failed: ${d.stderr}`);
    runs.push(JSON.parse(readFileSync(out, "utf8")));
    const r = await runOnce(process.execPath, [probe, "raw", dir, out], { cwd: dir });
    if (r.code !== 0) throw new Error(`deploy-probe raw failed: ${r.stderr}`);
    rawMs.push(JSON.parse(r.stdout.trim()).rawMs);
  }
  const statements = runs[0].statements.length;
  recordDeploy("", runs, `node scripts/bench/deploy-probe.mjs make DIR ${DEPLOY_COUNT} && node scripts/bench/deploy-probe.mjs deploy DIR out.json`);
  record("deploy-raw", `the same ${statements} DDL statements run directly on a fresh embedded engine`, undefined, { unit: "ms", wall: stats(rawMs), command: "node scripts/bench/deploy-probe.mjs raw DIR out.json" });
  record("deploy-overhead-raw", "the same overhead against the DDL run alone ((deploy − the row above) / migrations)", undefined, { unit: "ms", wall: stats(runs.map((d, i) => (d.deployMs - rawMs[i]) / DEPLOY_COUNT)), command: "(see the two rows above)" });
  await recordBreakdown("deploy-breakdown", probe, dir, {});
  rmSync(join(dir, ".moose"), { recursive: true, force: true });
  await measure("deploy-cli", `cold \`moose migrate deploy\` of ${DEPLOY_COUNT} pending migrations`, undefined, {
    argv: [BIN, "migrate", "deploy"],
    cwd: dir,
    warmup: 0,
    before: () => rmSync(join(dir, ".moose"), { recursive: true, force: true }),
    display: `cd DIR && rm -rf .moose && moose migrate deploy`,
  });
}

/**
 * One deploy with every call timed (`deploy-probe.mjs breakdown`). Only the deploy's own calls to the ledger
 * and the engine add up to its time; the rows inside them (a server ledger's own engine, its local mirror) and
 * the count of HTTP requests are shown, not added.
 */
async function recordBreakdown(id, probe, dir, env) {
  const b = await runOnce(process.execPath, [probe, "breakdown", dir], { cwd: dir, env });
  if (b.code !== 0) throw new Error(`deploy-probe breakdown failed: ${b.stderr}`);
  const parts = JSON.parse(b.stdout.trim());
  const outer = (name) => name.startsWith("ledger.") || name.startsWith("engine.");
  const timed = Object.entries(parts.calls).reduce((sum, [name, [ms]]) => sum + (outer(name) ? ms : 0), 0);
  const calls = Object.entries(parts.calls)
    .sort((x, y) => y[1][0] - x[1][0])
    .map(([name, [ms, n]]) =>
      name.startsWith("http ")
        ? { name: "HTTP requests (counted, not timed)", calls: n, perMigration: n / parts.migrations, count: true }
        : { name: outer(name) ? name : `  of which ${name}`, perMigration: ms / parts.migrations, calls: n, perCall: ms / n },
    );
  calls.push({ name: "everything else (reading files, replay, planning statements, approvals; CPU)", perMigration: (parts.totalMs - timed) / parts.migrations });
  record(id, "where a deploy's time goes", undefined, { breakdown: calls, totalMs: parts.totalMs, migrations: parts.migrations });
}

/** The deploy figures' per-run rows: the deploy, its CPU, and the overhead per migration (deploy − its own DDL time). */
function recordDeploy(suffix, runs, command) {
  const where = suffix === "" ? "embedded engine, ledger in .moose/ledger.sqlite" : "ClickHouse server, ledger kept in it";
  record(`deploy-lib${suffix}`, `deploy of ${DEPLOY_COUNT} pending single-step migrations, in-process, engine open (${where})`, undefined, {
    unit: "ms",
    wall: stats(runs.map((d) => d.deployMs)),
    cpu: stats(runs.map((d) => d.cpuMs)),
    command,
  });
  record(`deploy-ddl${suffix}`, `of which the DDL itself (time inside the engine's \`execute\`, ${runs[0].executeCalls} statements)`, undefined, { unit: "ms", wall: stats(runs.map((d) => d.executeMs)), command: "(the same runs)" });
  record(`deploy-overhead${suffix}`, `ledger and checks overhead per migration, ${where} ((deploy − its DDL) / migrations)`, undefined, { unit: "ms", wall: stats(runs.map((d) => (d.deployMs - d.executeMs) / d.migrations)), command: "(the same runs)" });
  if (runs.every((d) => typeof d.mainCpuMs === "number")) {
    record(`deploy-main-cpu${suffix}`, `main-thread CPU per migration, ${where} (the whole deploy, its DDL's dispatch included; the engine's and the ledger's own threads not counted)`, undefined, { unit: "ms", wall: stats(runs.map((d) => d.mainCpuMs / d.migrations)), command: "(the same runs)" });
  }
}

/** The same deploy on the ClickHouse server at $CLICKHOUSE_URL, with the ledger kept in the target (lib/ledger/target.ts). */
async function benchDeployServer() {
  const server = process.env.CLICKHOUSE_URL;
  if (!server) {
    record("deploy-overhead-server", "ledger and checks overhead per migration, ClickHouse server, ledger kept in it", undefined, { missing: "not measured: set CLICKHOUSE_URL (e.g. http://127.0.0.1:8123)" });
    return;
  }
  const dir = deployProject("deploy-server", server);
  const probe = join(PACKAGE_ROOT, "scripts", "bench", "deploy-probe.mjs");
  const made = await runOnce(process.execPath, [probe, "make", dir, String(DEPLOY_COUNT)], { cwd: dir });
  if (made.code !== 0) throw new Error(`deploy-probe make failed: ${made.stderr}`);
  // The floor of this design: the round trips a server target's deploy cannot do without, alone. Measured
  // first, on a quiet server: after a deploy run 18.16 spends minutes dropping its 1,000 tables, which a
  // one-part INSERT measured then feels (9.9 ms against 2.2 ms on a quiet server, both at load 0.1).
  noteLoad("before the server floor figures");
  const f = await runOnce(process.execPath, [probe, "floor", dir, "300"], { cwd: dir, env: { MOOSE_CLICKHOUSE_CONFIG__DB_NAME: `bench_deploy_${process.pid}_floor` } });
  if (f.code !== 0) throw new Error(`deploy-probe floor failed: ${f.stderr}`);
  const floor = JSON.parse(f.stdout.trim());
  noteLoad("before the server deploy figures");
  log(`deploy of ${DEPLOY_COUNT} migrations on ${server} (${DEPLOY_SERVER_RUNS} runs)`);
  const runs = [];
  const rawLedger = [];
  const out = join(WORK, "deploy-server.json");
  for (let i = 0; i < DEPLOY_SERVER_RUNS; i++) {
    // A database of its own per run: the probe drops it afterwards (untimed; minutes on 18.16).
    const env = { MOOSE_CLICKHOUSE_CONFIG__DB_NAME: `bench_deploy_${process.pid}_${i}` };
    const d = await runOnce(process.execPath, [probe, "deploy", dir, out], { cwd: dir, env });
    if (d.code !== 0) throw new Error(`deploy-probe deploy (server) failed: ${d.stderr}`);
    runs.push(JSON.parse(readFileSync(out, "utf8")));
    // The same statements (they name the run's database) with one ledger write after each and nothing
    // else, run after the deploy so that both meet the server in the same state.
    const r = await runOnce(process.execPath, [probe, "raw-ledger", dir, out], { cwd: dir, env });
    if (r.code !== 0) throw new Error(`deploy-probe raw-ledger failed: ${r.stderr}`);
    rawLedger.push(JSON.parse(r.stdout.trim()));
  }
  recordDeploy("-server", runs, `CLICKHOUSE_URL=${server} … node scripts/bench/deploy-probe.mjs deploy DIR out.json  # DIR's moose.config.toml names the server`);
  const rawCommand = "node scripts/bench/deploy-probe.mjs raw-ledger DIR out.json";
  record("deploy-raw-ledger-ddl", `server floor: the deploy's ${DEPLOY_COUNT} statements run directly, each followed by one ledger write and nothing else: the statements' own time per migration`, undefined, { unit: "ms", wall: stats(rawLedger.map((r) => r.ddlMs / r.writes)), command: rawCommand });
  record("deploy-raw-ledger-write", "of the same runs: the ledger write after each statement (the 3 rows between two migrations, one INSERT into `_moose_ledger`), per migration: what any ledger kept in the target that records a migration before the next one starts pays", undefined, { unit: "ms", wall: stats(rawLedger.map((r) => r.writeMs / r.writes)), command: rawCommand });
  await recordBreakdown("deploy-breakdown-server", probe, dir, { MOOSE_CLICKHOUSE_CONFIG__DB_NAME: `bench_deploy_${process.pid}_breakdown` });
  const q = (x) => ({ median: x.median, min: x.p10, max: x.p90 });
  const command = "node scripts/bench/deploy-probe.mjs floor DIR 300";
  record("deploy-floor-select1", `server round trip: \`SELECT 1\` through the deploy's connection (median of ${floor.n}; spread p10–p90)`, undefined, { unit: "ms", wall: q(floor.select1), command });
  record("deploy-floor-select1-client", `the same \`SELECT 1\` through @clickhouse/client (its options before the connection's own transport; CPU ${fmt(floor.select1Client.cpuPerRequest)} per request against ${fmt(floor.select1.cpuPerRequest)})`, undefined, { unit: "ms", wall: q(floor.select1Client), command });
  record("deploy-floor-insert", `server floor of the ledger: one ledger write (the 3 rows between two migrations) into \`_moose_ledger\` (MergeTree, two stored columns), through the ledger's own store as the deploy sends it`, undefined, { unit: "ms", wall: q(floor.insertMergeTree), command });
  record("deploy-floor-insert-columns", "the same write into the ledger's first layout (nine stored columns: two files each per INSERT's part on 18.16; for comparison)", undefined, { unit: "ms", wall: q(floor.insertColumns), command });
}

/**
 * A public Moose template as it is (fixtures/moose-templates/typescript: moose-lib's \`typescript\`
 * template, its own moose.config.toml), with this package's node_modules, which has
 * @types/node as the template's own install would: a cold \`moose plan\` (no \`.moose/\`, as on a
 * fresh CI runner). (No \`tsc\` beside it: the template imports @514labs/moose-lib, which is not
 * installed here; moose-migrate reads it as its own library.)
 */
async function benchTemplate() {
  const dir = join(WORK, "template-typescript");
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(PACKAGE_ROOT, "fixtures", "moose-templates", "typescript"), dir, { recursive: true });
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(dir, "node_modules"));
  noteLoad("before the template figures");
  await measureTogether([
    { id: "template-plan", label: "cold `moose plan` on moose-lib's `typescript` template as it is (no `.moose/`; its node_modules has @types/node)", argv: [BIN, "plan"], cwd: dir, before: () => rmSync(join(dir, ".moose"), { recursive: true, force: true }), display: "cd typescript-template && rm -rf .moose && moose plan" },
  ]);
}

/**
 * Planning against a history: the 1,000-table app with its first migration (creating every table)
 * and k single-column migrations after it committed, for each k of HISTORY_POINTS. Before every run
 * one model file changes (a new optional column, another name each time), so each run is "one
 * model file changed since the last run"; the runs before it have left `.moose/` as they would.
 * Timed with the history cache (`.moose/committed-state.json`) and with it removed before each
 * run (what every run cost before it existed), beside `tsc --noEmit` on the stand-in.
 */
async function benchHistory(size) {
  const dir = join(WORK, `history-${size}`);
  generateApp({ tables: size, out: dir });
  const standin = join(WORK, `history-standin-${size}`);
  generateApp({ tables: size, out: standin, variant: "standin" });
  log(`history: ${HISTORY + 1} migrations @ ${size} tables (in one process)`);
  const made = await runOnce(process.execPath, [join(PACKAGE_ROOT, "scripts", "bench", "history-probe.mjs"), dir, String(HISTORY), "--keep", HISTORY_POINTS.join(",")], { cwd: dir });
  if (made.code !== 0) throw new Error(`history-probe failed: ${made.stderr}`);
  noteLoad(`before the history figures`);
  let edits = 0;
  const editOne = (project) => () => {
    const models = readdirSync(join(project, "app", "models")).sort();
    const file = join(project, "app", "models", models[Math.floor(models.length / 2)]);
    const text = readFileSync(file, "utf8").replace(/\n  bench_probe_\d+\?: string;/, "");
    writeFileSync(file, text.replace(/\n}\n/, `\n  bench_probe_${++edits}?: string;\n}\n`));
  };
  const specs = [{ id: "tsc-standin-history", label: "`tsc --noEmit`, same interfaces with a one-line stand-in class (history batch)", size, argv: [TSC, "-p", standin], cwd: standin, display: `tsc -p /tmp/s${size}` }];
  // Where a plan's time goes when one model file changed: the same plan without the extraction
  // cache, a plan with nothing changed (all of a plan but reading the app), and the Program any
  // reading starts with (TypeScript's lib files and this library's declarations, no app file).
  const point = HISTORY_POINTS.includes(40) ? 40 : HISTORY_POINTS.at(-1);
  if (point !== undefined) {
    const project = `${dir}-h${point}`;
    const floorFile = join(project, "floor-probe.ts");
    writeFileSync(floorFile, 'import type { OlapTable } from "moose-migrate";\nexport type T = OlapTable<{ id: string }>;\n');
    specs.push({ id: `plan-h${point}-noxcache`, label: `\`moose plan\` after a one-model-file edit, ${point + 1} committed migrations, extraction cache removed`, size, argv: [BIN, "plan"], cwd: project, before: () => (editOne(project)(), rmSync(join(project, ".moose", "extraction-cache.json"), { force: true })), display: `… && rm .moose/extraction-cache.json && moose plan` });
    specs.push({ id: `plan-h${point}-nochange`, label: `\`moose plan\` with nothing changed since the last run, ${point + 1} committed migrations`, size, argv: [BIN, "plan"], cwd: project, display: `… && moose plan && moose plan` });
    specs.push({ id: "program-floor", label: "a TypeScript Program of TypeScript's lib files and this library's declarations (a file that only imports the library), built and bound", size, argv: [join(PACKAGE_ROOT, "scripts", "bench", "ts-load-probe.mjs"), "program", floorFile], cwd: project, display: "node scripts/bench/ts-load-probe.mjs program floor-probe.ts" });
    specs.push({ id: "ts-cached-history", label: "load the TypeScript compiler with the V8 code cache (history batch)", size, argv: [join(PACKAGE_ROOT, "scripts", "bench", "ts-load-probe.mjs"), "cached"], cwd: project, display: "node scripts/bench/ts-load-probe.mjs cached" });
  }
  for (const k of HISTORY_POINTS) {
    const project = `${dir}-h${k}`;
    const cache = join(project, ".moose", "committed-state.json");
    specs.push({ id: `plan-h${k}`, label: `\`moose plan\` after a one-model-file edit, ${k + 1} committed migrations (history cache kept)`, size, argv: [BIN, "plan"], cwd: project, before: editOne(project), display: `node scripts/bench/history-probe.mjs /tmp/a${size} ${k} && cd /tmp/a${size} && moose plan  # after editing one model file` });
    specs.push({ id: `plan-h${k}-nocache`, label: `\`moose plan\` after a one-model-file edit, ${k + 1} committed migrations, history cache removed`, size, argv: [BIN, "plan"], cwd: project, before: () => (editOne(project)(), rmSync(cache, { force: true })), display: `… && rm .moose/committed-state.json && moose plan` });
    if (k === (HISTORY_POINTS.includes(40) ? 40 : HISTORY_POINTS.at(-1))) {
      // `plan --sql` writes its SQL from the same committed state (it replayed every file before it used the cache).
      specs.push({ id: `plan-sql-history`, label: `\`moose plan --sql\` after a one-model-file edit, ${k + 1} committed migrations (history cache kept)`, size, argv: [BIN, "plan", "--sql"], cwd: project, before: editOne(project), display: `… && moose plan --sql` });
      specs.push({ id: `plan-sql-history-nocache`, label: `\`moose plan --sql\` after a one-model-file edit, ${k + 1} committed migrations, history cache removed`, size, argv: [BIN, "plan", "--sql"], cwd: project, before: () => (editOne(project)(), rmSync(cache, { force: true })), display: `… && rm .moose/committed-state.json && moose plan --sql` });
    }
  }
  await measureTogether(specs);
}

/**
 * Peers: the same tables as a drizzle-kit project (PostgreSQL dialect; drizzle-kit has no
 * ClickHouse), next to ours: a first generate (no migrations yet) and a generate after one
 * added column (the first migration committed), with peak RSS; `tsc --noEmit` beside them.
 */
async function benchPeers(size) {
  let missing;
  try {
    drizzlePackage("drizzle-kit");
    drizzlePackage("drizzle-orm");
  } catch (e) {
    missing = e.message;
  }
  const app = join(WORK, `peers-${size}`);
  const appPlus = join(WORK, `peers-plus-${size}`);
  const standin = join(WORK, `peers-standin-${size}`);
  generateApp({ tables: size, out: app });
  generateApp({ tables: size, out: standin, variant: "standin" });
  cpSync(app, appPlus, { recursive: true, verbatimSymlinks: true });
  const init = await runOnce(process.execPath, [BIN, "migrate", "generate", "--name", "init"], { cwd: appPlus });
  if (init.code !== 0) throw new Error(`peers: generate failed: ${init.stderr}`);
  const addColumn = (file) => writeFileSync(file, readFileSync(file, "utf8").replace(/\n}\n/, `\n  peer_added?: string;\n}\n`));
  addColumn(join(appPlus, "app", "models", readdirSync(join(appPlus, "app", "models")).sort()[0]));
  const keepFirst = (dir) => () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
    for (const f of files.slice(1)) rmSync(join(dir, f));
  };
  const clear = (dir) => () => {
    for (const f of readdirSync(dir)) if (f.endsWith(".ts")) rmSync(join(dir, f));
  };
  const specs = [
    { id: "peer-tsc-standin", label: "`tsc --noEmit` (TypeScript 5.9), same interfaces with a one-line stand-in class (peers batch)", size, argv: [TSC, "-p", standin], cwd: standin, display: `tsc -p /tmp/s${size}` },
    { id: "peer-moose-first", label: "moose-migrate: first `moose migrate generate`", size, argv: [BIN, "migrate", "generate"], cwd: app, before: clear(join(app, "migrations")), display: `cd /tmp/a${size} && rm -f migrations/*.ts && moose migrate generate` },
    { id: "peer-moose-plus", label: "moose-migrate: `moose migrate generate` after adding one column (first migration committed)", size, argv: [BIN, "migrate", "generate"], cwd: appPlus, before: keepFirst(join(appPlus, "migrations")), display: `moose migrate generate  # after adding a column` },
  ];
  if (missing === undefined) {
    const d = join(WORK, `drizzle-${size}`);
    const dPlus = join(WORK, `drizzle-plus-${size}`);
    generateApp({ tables: size, out: d, variant: "drizzle" });
    generateApp({ tables: size, out: dPlus, variant: "drizzle" });
    const kit = (dir) => join(dir, "node_modules", "drizzle-kit", "bin.cjs");
    const first = await runOnce(process.execPath, [kit(dPlus), "generate"], { cwd: dPlus });
    if (first.code !== 0) throw new Error(`peers: drizzle-kit generate failed: ${first.stderr}${first.stdout}`);
    cpSync(join(dPlus, "drizzle"), join(dPlus, "drizzle.first"), { recursive: true });
    const schema = join(dPlus, "schema", readdirSync(join(dPlus, "schema")).sort()[0]);
    writeFileSync(schema, readFileSync(schema, "utf8").replace(/\n}\);\n/, `\n  peer_added: text(),\n});\n`));
    const restore = () => {
      rmSync(join(dPlus, "drizzle"), { recursive: true, force: true });
      cpSync(join(dPlus, "drizzle.first"), join(dPlus, "drizzle"), { recursive: true });
    };
    specs.push({ id: "peer-drizzle-first", label: "drizzle-kit: first `drizzle-kit generate`", size, argv: [kit(d), "generate"], cwd: d, before: () => rmSync(join(d, "drizzle"), { recursive: true, force: true }), display: `node scripts/bench/generate-app.mjs --tables ${size} --variant drizzle --out /tmp/d${size} && cd /tmp/d${size} && drizzle-kit generate` });
    specs.push({ id: "peer-drizzle-plus", label: "drizzle-kit: `drizzle-kit generate` after adding one column (first migration committed)", size, argv: [kit(dPlus), "generate"], cwd: dPlus, before: restore, display: `drizzle-kit generate  # after adding a column` });
  }
  noteLoad("before the peer figures");
  await measureTogether(specs);
  if (missing !== undefined) {
    record("peer-drizzle-first", "drizzle-kit: first `drizzle-kit generate`", size, { missing: `not measured: ${missing}` });
    record("peer-drizzle-plus", "drizzle-kit: `drizzle-kit generate` after adding one column", size, { missing: `not measured: ${missing}` });
  }
}

// ---- report ----------------------------------------------------------------

const fmt = (v, unit = "ms") => (v === undefined ? "–" : unit === "ms" ? (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`) : unit === "MB" ? `${v.toFixed(0)} MB` : `${v.toFixed(2)}×`);
const spread = (s, unit = "ms") => (s ? `${fmt(s.min, unit)} – ${fmt(s.max, unit)}` : "");
const find = (id, size) => results.find((r) => r.id === id && r.size === size);

function machineInfo() {
  const cpus = os.cpus();
  let distro = os.type();
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? distro;
  } catch {}
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(join(PACKAGE_ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  return [
    `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? "?"}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${distro}, kernel ${os.release()}`,
    `- Node.js ${process.version}, TypeScript ${version("typescript")}, chdb ${version("chdb")}, moose-migrate ${JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version}`,
  ].join("\n");
}

function verdict(ok) {
  return ok === undefined ? "not measured" : ok ? "**met**" : "**not met**";
}

function summaryRows() {
  const rows = [];
  const largest = Math.max(...SIZES);
  const help = find("help");
  rows.push(["`moose --help`", TARGETS.help.text, help ? `${fmt(help.wall.median)} (${spread(help.wall)})` : "–", verdict(help ? help.wall.median <= TARGETS.help.max : undefined)]);
  for (const size of [100, 1000]) {
    const dev = find("dev", size);
    const target = TARGETS[`dev-${size}`];
    if (!SIZES.includes(size)) continue;
    rows.push([`dev loop at ${size} tables`, target.text, dev?.wall ? `${fmt(dev.wall.median)} (${spread(dev.wall)})` : (dev?.missing ?? "–"), verdict(dev?.wall ? dev.wall.median <= target.max : undefined)]);
  }
  const gen = find("generate", largest);
  const floor = find("tsc-standin", largest);
  const app = find("tsc-app", largest);
  if (gen && floor) {
    const r = gen.wall.median / floor.wall.median;
    const noCache = find("generate-nocache", largest);
    const cacheNote = noCache ? `; without the TypeScript code cache ${fmt(noCache.wall.median)} = ${(noCache.wall.median / floor.wall.median).toFixed(2)}×` : "";
    rows.push([`cold \`migrate generate\` at ${largest} tables vs \`tsc --noEmit\` (stand-in)`, TARGETS["generate-vs-tsc"].text, `${fmt(gen.wall.median)} / ${fmt(floor.wall.median)} = ${r.toFixed(2)}×${cacheNote}`, verdict(r <= TARGETS["generate-vs-tsc"].max)]);
  }
  if (app && floor) {
    const r = app.wall.median / floor.wall.median;
    rows.push([`our library's types: \`tsc\` on the app vs the stand-in, ${largest} tables`, TARGETS["types-overhead"].text, `${fmt(app.wall.median)} / ${fmt(floor.wall.median)} = ${r.toFixed(2)}× (+${((r - 1) * 100).toFixed(0)} %)`, verdict(r <= TARGETS["types-overhead"].max)]);
  }
  for (const [id, where] of [["deploy-overhead", "embedded engine"], ["deploy-overhead-server", "the server target's ledger (ClickHouse server)"]]) {
    const over = find(id);
    if (!over) continue;
    const floor = id === "deploy-overhead-server" ? find("deploy-floor-insert") : undefined;
    const wide = find("deploy-floor-insert-columns");
    const between = id === "deploy-overhead-server" ? find("deploy-raw-ledger-write") : undefined;
    const betweenText = between?.wall ? `; floor: the same DDL run directly with one ledger INSERT after each statement and nothing else, that INSERT alone ${fmt(between.wall.median)} per migration (${spread(between.wall)})` : "";
    const floorText = floor ? `${betweenText}; the same INSERT on a quiet server, no DDL between, ${fmt(floor.wall.median)} (\`_moose_ledger\`, MergeTree)${wide ? `, ${fmt(wide.wall.median)} into the first layout's nine columns` : ""}` : "";
    const text = over.wall ? `${fmt(over.wall.median)} per migration (${spread(over.wall)}), ${DEPLOY_COUNT} single-step migrations${floorText}` : over.missing;
    const max = TARGETS["deploy-overhead"].max;
    const floorAbove = over.wall && over.wall.median > max && between?.wall && between.wall.median > max ? " (the measured floor is above the goal)" : "";
    rows.push([`ledger and checks overhead on deploy, ${where}`, TARGETS["deploy-overhead"].text, text, verdict(over.wall ? over.wall.median <= max : undefined) + floorAbove]);
  }
  if (SIZES.includes(1000)) {
    const rss = find("dev-rss", 1000);
    const engine = find("engine-rss", 1000);
    const extract = find("extract-rss", 1000);
    const node = find("node-rss");
    const code = engine?.fileBackedMb !== undefined ? ` (${fmt(engine.fileBackedMb, "MB")} of it file-backed: chDB's code)` : "";
    const floor =
      engine?.value !== undefined && extract?.value !== undefined && node?.value !== undefined
        ? `; floor of one process holding both: the embedded engine alone ${fmt(engine.value, "MB")}${code} + extraction alone ${fmt(extract.value, "MB")} − Node.js counted twice ${fmt(node.value, "MB")} = ${fmt(engine.value + extract.value - node.value, "MB")}`
        : "";
    rows.push(["peak RSS of `moose dev` at 1,000 tables", TARGETS["dev-rss-1000"].text, `${rss?.value !== undefined ? fmt(rss.value, "MB") : (rss?.missing ?? "–")}${floor}`, verdict(rss?.value !== undefined ? rss.value <= TARGETS["dev-rss-1000"].max : undefined)]);
  }
  const hTsc = find("tsc-standin-history", largest);
  const point = HISTORY_POINTS.includes(40) ? 40 : HISTORY_POINTS.at(-1);
  const hPlan = find(`plan-h${point}`, largest);
  if (hTsc && hPlan) {
    const r = hPlan.wall.median / hTsc.wall.median;
    const noCache = find(`plan-h${point}-nocache`, largest);
    const before = noCache ? `; without the history cache ${fmt(noCache.wall.median)} = ${(noCache.wall.median / hTsc.wall.median).toFixed(2)}×` : "";
    const cpu = hPlan.cpu && hTsc.cpu ? `; CPU ${fmt(hPlan.cpu.median)} / ${fmt(hTsc.cpu.median)} = ${(hPlan.cpu.median / hTsc.cpu.median).toFixed(2)}×` : "";
    rows.push([`\`moose plan\` after a one-column edit, ${largest} tables, the first migration + ${point} later ones committed, vs \`tsc --noEmit\` (stand-in)`, TARGETS["plan-history"].text, `${fmt(hPlan.wall.median)} / ${fmt(hTsc.wall.median)} = ${r.toFixed(2)}×${cpu}${before}`, verdict(r <= TARGETS["plan-history"].max)]);
    // Every run above follows a one-model-file edit, with .moose/ as the run before left it: that case, by CPU time.
    const cpuRatio = hPlan.cpu && hTsc.cpu ? hPlan.cpu.median / hTsc.cpu.median : undefined;
    const part = (id, what) => {
      const v = find(id, largest)?.cpu?.median;
      return v === undefined || !hTsc.cpu ? `${what} (not measured)` : `${what} ${fmt(v)} = ${(v / hTsc.cpu.median).toFixed(2)}×`;
    };
    rows.push([
      `the same when only one model file changed since the last run (every run above is that case), CPU time`,
      TARGETS["plan-one-file"].text,
      `${cpuRatio === undefined ? `${r.toFixed(2)}× (wall)` : `${fmt(hPlan.cpu.median)} / ${fmt(hTsc.cpu.median)} = ${cpuRatio.toFixed(2)}×`}; ${part(`plan-h${point}-noxcache`, "without the extraction cache")}; wall ${fmt(hPlan.wall.median)} / ${fmt(hTsc.wall.median)} = ${r.toFixed(2)}× (tsc spreads its work over two cores). For scale: ${part(`plan-h${point}-nochange`, "nothing changed")} (all of a plan but reading the app); ${part("program-floor", "a process that only builds the Program of TypeScript's lib files and this library's declarations")}, of which ${part("ts-cached-history", "loading TypeScript")} (see *Extraction cache*)`,
      verdict((cpuRatio ?? r) <= TARGETS["plan-one-file"].max),
    ]);
  }
  const h10 = find("plan-h10", largest);
  const hLast = find(`plan-h${HISTORY_POINTS.at(-1)}`, largest);
  if (h10 && hLast && hLast !== h10) {
    const r = hLast.wall.median / h10.wall.median;
    const n10 = find("plan-h10-nocache", largest);
    const nLast = find(`plan-h${HISTORY_POINTS.at(-1)}-nocache`, largest);
    const without = n10 && nLast ? `; without the cache ${fmt(n10.wall.median)} → ${fmt(nLast.wall.median)}` : "";
    rows.push([`growth of \`moose plan\` with the history: 11 → ${HISTORY_POINTS.at(-1) + 1} committed migrations`, TARGETS["history-growth"].text, `${fmt(h10.wall.median)} → ${fmt(hLast.wall.median)} = ${r.toFixed(2)}×${without}`, verdict(r <= TARGETS["history-growth"].max)]);
  }
  const growth = growthRatio("generate");
  const tscGrowth = growthRatio("tsc-standin");
  if (growth) {
    const reference = tscGrowth ? `; \`tsc\` (stand-in): ${tscGrowth.perTableFrom.toFixed(2)} → ${tscGrowth.perTableTo.toFixed(2)}` : "";
    rows.push([`growth of cold \`migrate generate\`: ms per added table, ${growth.from} vs ${growth.to} tables`, "about linear", `${growth.perTableFrom.toFixed(2)} → ${growth.perTableTo.toFixed(2)} ms per table${reference}`, growth.ratio <= 1.5 ? "**met** (the cost per table does not grow)" : "**not met**"]);
  }
  return rows;
}

/**
 * Cost per added table between consecutive sizes (the difference of the medians over
 * the difference of table counts, so fixed start-up cost drops out). Linear growth
 * keeps the slope flat; the last slope over the first says how far from linear it is.
 */
function slopes(id) {
  const sizes = [...SIZES].sort((a, b) => a - b).filter((n) => find(id, n)?.wall);
  if (sizes.length < 3) return undefined;
  const out = [];
  for (let i = 1; i < sizes.length; i++) {
    const a = find(id, sizes[i - 1]);
    const b = find(id, sizes[i]);
    out.push({ from: a.size, to: b.size, msPerTable: (b.wall.median - a.wall.median) / (b.size - a.size) });
  }
  return { slopes: out, ratio: out[out.length - 1].msPerTable / out[0].msPerTable };
}

function growthRatio(id) {
  const g = slopes(id);
  if (!g) return undefined;
  const first = g.slopes[0];
  const last = g.slopes[g.slopes.length - 1];
  return { from: `${first.from}→${first.to}`, to: `${last.from}→${last.to}`, perTableFrom: first.msPerTable, perTableTo: last.msPerTable, ratio: g.ratio };
}

function table(header, rows) {
  return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function detailRows() {
  const rows = [];
  for (const r of results) {
    if (r.id === "app" || r.id === "deploy-breakdown" || r.id === "deploy-breakdown-server" || r.id === "type-counts" || r.id.startsWith("plan-h") || r.id.startsWith("peer-") || r.id === "tsc-standin-history") continue;
    const size = r.size === undefined ? "" : String(r.size);
    if (r.missing) {
      rows.push([r.label, size, r.missing, "", "", "", ""]);
      continue;
    }
    if (r.value !== undefined) {
      rows.push([r.label, size, fmt(r.value, r.unit), "", "", "", r.command ? `\`${r.command}\`` : ""]);
      continue;
    }
    rows.push([r.label, size, fmt(r.wall.median, r.unit), spread(r.wall, r.unit), r.cpu ? fmt(r.cpu.median) : "", r.rss ? fmt(r.rss.median, "MB") : "", r.command ? `\`${r.command}\`` : ""]);
  }
  return rows;
}

function curve() {
  const ids = ["tsc-standin", "tsc-app", "plan", "generate", "reextract", "dev"];
  const sizes = [...SIZES].sort((a, b) => a - b);
  const rows = ids
    .filter((id) => sizes.some((s) => find(id, s)?.wall))
    .map((id) => [find(id, sizes.find((s) => find(id, s)))?.label ?? id, ...sizes.map((s) => (find(id, s)?.wall ? fmt(find(id, s).wall.median) : "–"))]);
  const max = Math.max(...sizes.map((s) => find("generate", s)?.wall?.median ?? 0));
  const bars = sizes
    .filter((s) => find("generate", s)?.wall)
    .map((s) => {
      const v = find("generate", s).wall.median;
      return `${String(s).padStart(5)} tables | ${"█".repeat(Math.max(1, Math.round((v / max) * 50)))} ${fmt(v)}`;
    });
  return `${table(["median", ...sizes.map((s) => `${s} tables`)], rows)}\n\nCold \`moose migrate generate\` (linear scale):\n\n\`\`\`\n${bars.join("\n")}\n\`\`\``;
}

function deployBreakdown(id = "deploy-breakdown") {
  const b = find(id);
  if (!b) return "(not measured in this run)";
  const name = (n) => (n.startsWith("everything") || n.startsWith("HTTP") ? n : n.startsWith("  of which ") ? `of which \`${n.slice(11)}\`` : `\`${n}\``);
  const rows = b.breakdown.map((c) => [name(c.name), c.count ? c.perMigration.toFixed(2) : fmt(c.perMigration), c.calls === undefined ? "" : String(c.calls), c.perCall === undefined ? "" : fmt(c.perCall)]);
  return `One deploy of ${b.migrations} migrations with every ledger and engine call timed (\`node scripts/bench/deploy-probe.mjs breakdown DIR\`), ${fmt(b.totalMs)} in all. \`engine.execute\` is the DDL itself; everything else is overhead.\n\n${table(["call", "per migration", "calls", "per call"], rows)}`;
}

/** Modules of this build that still import `typescript` as an ES module (each costs the `import` row above, not the `require` one). */
function esmTypescriptNote() {
  const found = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".js") && /^import [^;]*from "typescript";/m.test(readFileSync(p, "utf8"))) found.push(relative(PACKAGE_ROOT, p));
    }
  };
  walk(join(PACKAGE_ROOT, "dist", "lib"));
  walk(join(PACKAGE_ROOT, "dist", "cli"));
  const esm = find("ts-esm");
  const req = find("ts-require");
  const cost = esm && req ? ` (${fmt(esm.wall.median - req.wall.median)} more per cold command than \`require\`, measured above)` : "";
  return found.length === 0
    ? "- Every module loads TypeScript with `require` (lib/extract/typescript.cts)."
    : `- Modules of this build that still \`import\` TypeScript as an ES module, so that every cold command loading them pays for Node's scan of its 9 MB for named exports${cost}: ${found.map((f) => `\`${f}\``).join(", ")}. Importing \`lib/extract/typescript.cjs\` instead removes it.`;
}

function typeCountTable() {
  const r = results.find((x) => x.id === "type-counts");
  if (!r) return "";
  const row = (name, key, unit = "") => [name, `${r.counts.app[key].toLocaleString("en-US")}${unit}`, `${r.counts.standin[key].toLocaleString("en-US")}${unit}`, `${(r.counts.app[key] / r.counts.standin[key]).toFixed(1)}×`];
  return `What the type checker builds for the ${r.size}-table app, with moose-migrate's types and with the stand-in (\`tsc --extendedDiagnostics\`; counts do not depend on the machine's load):

${table(["", "app", "stand-in", ""], [row("types", "types"), row("instantiations", "instantiations"), row("symbols", "symbols"), row("memory used", "memoryKb", " KB")])}

`;
}

function slopeTable() {
  const ids = ["tsc-standin", "tsc-app", "plan", "generate", "reextract", "dev"].filter((id) => slopes(id));
  if (ids.length === 0) return "";
  const header = slopes(ids[0]).slopes.map((s) => `${s.from} → ${s.to} tables`);
  const rows = ids.map((id) => [find(id, SIZES[0])?.label ?? id, ...slopes(id).slopes.map((s) => `${s.msPerTable.toFixed(2)} ms`)]);
  return `\nCost per added table (difference of medians over difference of table counts; start-up cost drops out):\n\n${table(["", ...header], rows)}\n`;
}

function historySection() {
  const largest = Math.max(...SIZES);
  const tsc = find("tsc-standin-history", largest);
  const points = HISTORY_POINTS.filter((k) => find(`plan-h${k}`, largest));
  if (points.length === 0) return "(not measured in this run)";
  const rows = points.map((k) => {
    const warm = find(`plan-h${k}`, largest);
    const cold = find(`plan-h${k}-nocache`, largest);
    const ratio = (r) => (r && tsc ? ` (${(r.wall.median / tsc.wall.median).toFixed(2)}×)` : "");
    return [String(k + 1), `${fmt(warm.wall.median)}${ratio(warm)}`, warm.cpu ? fmt(warm.cpu.median) : "", cold ? `${fmt(cold.wall.median)}${ratio(cold)}` : "–", cold?.cpu ? fmt(cold.cpu.median) : ""];
  });
  const max = Math.max(...points.flatMap((k) => [find(`plan-h${k}`, largest).wall.median, find(`plan-h${k}-nocache`, largest)?.wall.median ?? 0]));
  const bar = (v) => "█".repeat(Math.max(1, Math.round((v / max) * 50)));
  const bars = points.flatMap((k) => {
    const warm = find(`plan-h${k}`, largest).wall.median;
    const cold = find(`plan-h${k}-nocache`, largest)?.wall.median;
    return [`${String(k + 1).padStart(4)} cached   | ${bar(warm)} ${fmt(warm)}`, ...(cold === undefined ? [] : [`${String(k + 1).padStart(4)} replayed | ${bar(cold)} ${fmt(cold)}`])];
  });
  return `The ${largest}-table app with its first migration (creating every table) and k single-column migrations after it
committed (\`scripts/bench/history-probe.mjs\` generates them with the real extractor, planner and renderer; code and
history agree). Before every run one model file gets a new column, so each run plans one change after one
edited file. *Cached*: \`.moose/committed-state.json\` left by the run before (the normal case); *replayed*: removed
before each run, so every committed file is parsed and replayed (every run before the cache existed).
\`tsc --noEmit\` on the stand-in, in the same batch: ${tsc ? fmt(tsc.wall.median) : "–"}; ratios to it in brackets.

${table(["committed migrations", "\`moose plan\`, cached", "CPU", "\`moose plan\`, replayed", "CPU"], rows)}

\`\`\`
${bars.join("\n")}
\`\`\``;
}

function peersSection() {
  const largest = Math.max(...SIZES);
  const tsc = find("peer-tsc-standin", largest);
  if (!tsc) return "(not measured in this run)";
  const ratio = (r) => (r?.wall ? `${(r.wall.median / tsc.wall.median).toFixed(2)}×` : "–");
  const cell = (r) => (r?.wall ? `${fmt(r.wall.median)} (${spread(r.wall)})` : (r?.missing ?? "–"));
  const rss = (r) => (r?.rss ? fmt(r.rss.median, "MB") : "–");
  const row = (name, first, plus) => [name, cell(first), ratio(first), rss(first), cell(plus), ratio(plus), rss(plus)];
  const rows = [
    row("moose-migrate (`moose migrate generate`)", find("peer-moose-first", largest), find("peer-moose-plus", largest)),
    row("drizzle-kit " + drizzleVersion() + " (`drizzle-kit generate`, PostgreSQL)", find("peer-drizzle-first", largest), find("peer-drizzle-plus", largest)),
    [`\`tsc --noEmit\` ${tscVersion()} on the same interfaces (stand-in)`, cell(tsc), "1.00×", rss(tsc), "", "", ""],
  ];
  return `The same ${largest} tables (same names, columns, types and nullability, from the same seed) declared for each tool,
measured in one batch that takes turns run by run. *First*: no migration yet; *+1 column*: the first migration
committed, one column added to one table. Ratios are to \`tsc --noEmit\` in the same batch.

${table(["tool", "first generate", "÷ tsc", "peak RSS", "+1 column generate", "÷ tsc", "peak RSS"], rows)}

External figures, not measured by this script (quoted from the issue, measured on this machine by the issue's
author at 1,000 tables): drizzle-kit +1 column 2.82 s; the original Moose 0.6.533 \`moose generate migration\`
66.8 s, 18.0 s warm.`;
}

function drizzleVersion() {
  try {
    return JSON.parse(readFileSync(join(drizzlePackage("drizzle-kit"), "package.json"), "utf8")).version;
  } catch {
    return "";
  }
}

function tscVersion() {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_ROOT, "node_modules", "typescript", "package.json"), "utf8")).version;
  } catch {
    return "";
  }
}

function appRows() {
  return results.filter((r) => r.id === "app").map((r) => [String(r.size), String(r.summary.columns), String(r.summary.files), String(r.summary.streams), String(r.summary.views)]);
}

function report() {
  const finished = new Date();
  return `# Benchmarks

Written by \`npm run bench\` (\`scripts/bench/run.mjs\`${quick ? " --quick" : ""}) on ${finished.toISOString().slice(0, 16).replace("T", " ")} UTC; the run took ${((finished - started) / 60000).toFixed(1)} min.
Every figure is the median of ${RUNS} runs (\`moose --help\`: ${RUNS * 3}) of a fresh process, after one unmeasured run
that only warms the OS file cache; the spread is min – max. CPU is user + system time of the process,
which the load of other jobs on the machine inflates less than the wall time.

## Machine

${machineInfo()}
- Load average (1 / 5 / 15 min) while measuring:
${loads.map((l) => `  - ${l.when}: ${l.load}`).join("\n")}

## Summary

${table(["target", "goal", "measured (median, min – max)", ""], summaryRows())}

${typeCountTable()}## Synthetic apps

\`node scripts/bench/generate-app.mjs --tables N --out DIR [--variant standin]\`: N tables of 10–50 columns
(mean 30) in files of 25, a Stream into every 10th table, a MaterializedView from every 25th (in view files
of 10). The *stand-in* variant declares the same interfaces and objects against a one-line stand-in class
per declaration instead of moose-migrate: the floor any type-based extraction is compared against.

${table(["tables", "columns", "files", "streams", "materialized views"], appRows())}

## All figures

${table(["figure", "tables", "median", "min – max", "CPU", "peak RSS", "reproduce"], detailRows())}

## Planning against a history

${historySection()}

## Extraction cache

Every \`moose plan\` in the history batch follows a one-model-file edit, with \`.moose/\` as the run before left
it: the extraction cache (\`.moose/extraction-cache.json\`) holds what extraction found per file, and the
command reads only the edited file and the files whose results depend on what changed in it. The edited model
file is imported by a view file that takes another table of it by name (\`import { table0525 } from …\`), and the
edit adds a column to the file's first table: the declarations the view's table stands on there have the same
text (\`lib/extract/declaration-uses.ts\`), so the view file's entry holds and TypeScript parses the edited file
alone (an edit of the table the view reads would read the view file again, and with it the ten model files it
imports). A file's entry is used only when the sha256 of its text, where each of its imports resolves, and the
hashes of every file it depends on (what it imports, directly or not) are what the entry recorded — or, for a
file it imports only by name and reaches no other way, the hash of the declarations those names stand on there;
the cache was written by the same build of the extractor,
TypeScript version and options; its body matches its checksum; and no file outside the app it used changed.
Anything else — and any error, a global declaration file, a registry getter — is a full extraction, whose result
the partial one equals byte for byte (\`tests/extraction-cache.test.ts\`). The summary row gives the CPU time of
that plan, without the cache, with nothing changed (everything a plan does besides reading the app: Node.js and
the modules, TypeScript, the committed state, diff, plan, hashing) and the Program any reading starts with
(TypeScript's ES2022 lib files and this library's declarations): together the floor that keeps the one-file
case above 0.5× \`tsc\`.

## Peers

${peersSection()}

## Deploy: where the time goes

${deployBreakdown()}

The same deploy on the ClickHouse server at $CLICKHOUSE_URL with the ledger kept in it (\`--only deploy-server\`):
the \`of which\` rows are inside the ledger's calls (its own connection to the server, \`ledger-engine\`, and its
local mirror, \`mirror\`) and are not added again; the HTTP row counts every request the deploy sent.

${deployBreakdown("deploy-breakdown-server")}

## Growth with table count

${curve()}
${slopeTable()}
## Notes

${esmTypescriptNote()}
- Cold commands load TypeScript from a V8 code cache (\`~/.cache/moose-migrate\`, written by the first command
  that loads it, and once more by the first command that reads an app with TypeScript when the one that wrote it
  read none, so that it holds the parser's and checker's functions; here by the unmeasured warm-up runs). The *without the TypeScript code cache* rows
  (\`MOOSE_NO_COMPILE_CACHE=1\`) show what the very first command on a machine costs.
- \`moose dev\` figures (dev loop, peak RSS) are measured by starting \`moose dev --port <free port>\` on a copy of
  the app, waiting for its first cycle, then adding one column to a model file ${DEV_EDITS} times; each save is timed
  from the file write to the \`✓ applied N step\` line, which \`moose dev\` prints after the change is applied
  and the draft's ledger row is committed. Peak RSS is the process's own \`maxRSS\` at exit. Where the row says
  *not measured yet*, the command did not exist in this build; the next \`npm run bench\` measures it.
- *Re-extraction after a one-column edit* is the extraction part of that loop, in-process with a warm
  \`AppExtractor\` (\`scripts/bench/extract-probe.mjs\`): it is not the dev loop, which adds diff, apply and ledger.
- Deploy overhead: \`deploy-probe.mjs deploy\` runs \`deploy()\` on ${DEPLOY_COUNT} committed single-step migrations (each
  creates a 10-column table) with the engine already open, and times the engine's own \`execute\` calls in the same
  run: the deploy's time minus that, per migration, is the ledger, lock, approval, replay and drift-check cost.
  \`raw\` runs the same DDL statements alone on a fresh engine (the cross-check row). On the embedded engine the
  ledger is \`.moose/ledger.sqlite\`, one fsynced commit per migration (SQLite \`synchronous = FULL\`); on the server
  (\`--only deploy-server\`, $CLICKHOUSE_URL) it is kept in the target: one INSERT into \`_moose_ledger\` per
  migration, the local mirror written without waiting for the disk, so a migration costs two HTTP requests (its
  DDL and that INSERT; the breakdown counts them). The *server floor* rows (\`deploy-probe.mjs floor\`) time those
  round trips alone through the deploy's own connection, 300 times each (median, p10–p90): \`SELECT 1\`, and the
  ledger write between two migrations (three rows) into \`_moose_ledger\` through the ledger's own store (a new
  MergeTree part on every INSERT: its two stored columns, \`seq\` and \`record\`, the plain-SQL columns being ALIAS)
  and, for comparison only, into a table of the ledger's first layout (nine stored columns). The *raw-ledger* rows
  (\`deploy-probe.mjs raw-ledger\`, after each server deploy run, in the same database name) run that deploy's
  statements directly, each followed by the same three-row write and nothing else: the floor of any ledger kept in
  the target that records each migration before the next one starts, as a killed deploy needs to resume exactly
  once (18.16 writes a new part per INSERT; between DDL statements that costs more than on a quiet server). The *main-thread CPU* row is the deploy's CPU on the main thread
  alone (Linux \`/proc/self/task\`): replay, checks, statements, the ledger's and the engine's calls, and not the
  time waiting for them or their threads (the fsync, the DDL), so other jobs on the machine inflate it least.
- Sizes: ${SIZES.join(", ")} tables. Reproduce everything with \`npm run bench\` (about ${quick ? "2" : "10"} minutes), or \`npm run bench -- --quick\`.
`;
}

// ---- main ------------------------------------------------------------------

mkdirSync(WORK, { recursive: true });
log(`work dir ${WORK}`);
noteLoad("at the start");
try {
  if (wanted("help")) await benchHelp();
  for (const size of SIZES) await benchSize(size);
  if (wanted("history")) await benchHistory(Math.max(...SIZES));
  if (wanted("peers")) await benchPeers(Math.max(...SIZES));
  if (wanted("deploy")) await benchDeploy();
  if (wanted("deploy-server")) await benchDeployServer();
  if (wanted("template")) await benchTemplate();
  noteLoad("at the end");
  const text = report();
  if (OUT === "-") process.stdout.write(text);
  else {
    writeFileSync(OUT, text);
    log(`wrote ${relative(process.cwd(), OUT) || OUT}`);
  }
  writeFileSync(join(WORK, "results.json"), JSON.stringify(results, null, 2));
} finally {
  if (!args.work && !args.keep) rmSync(WORK, { recursive: true, force: true });
}
