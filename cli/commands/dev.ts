import type { Change } from "../../lib/diff/change.js";
import { subjects } from "../../lib/diff/change-meta.js";
import { relative } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { watchIgnorer } from "../../lib/dev/watch-ignore.js";
import { watchSaves } from "../../lib/dev/save-watcher.js";
import { ExitCode, MooseError } from "../../lib/errors.js";
import { DevSession, type CycleResult } from "../../lib/dev/session.js";
import { openLogFile, type LogFile } from "../../lib/dev/log.js";
import { migrationLog, type MigrationLog } from "../../lib/project/migration-log.js";
import { newDevToken, removeDevInstance, writeDevInstance } from "../../lib/dev/instance.js";
import { DRAFT_FILE } from "../../lib/migrations/files/read.js";
import { stepOf } from "../../lib/migrations/files/steps.js";
import { guardedByPreflight, RISK_CODES } from "../../lib/plan/risk.js";
import type { RenameSuggestion } from "../../lib/diff/rename-suggestions.js";
import type { Plan } from "../../lib/plan/plan.js";
import { openDeployEngines, projectLedger, projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { renderPlanText } from "../present/plan-text.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import { startDevServer } from "../../lib/dev/server.js";
import { devConfig, devWorkflowEngine, workflowStateFile } from "../../lib/dev/infra.js";
import { describeAppError } from "../../lib/runtime/load-app.js";
import type { DevArgs } from "./dev.args.js";
import { stepLabel } from "../../lib/migrations/files/steps.js";

export async function run(args: DevArgs, io: CliIO): Promise<number> {
  let log: LogFile | undefined;
  const say = (text: string) => {
    io.stdout.write(text.endsWith("\n") ? text : text + "\n");
    log?.write(text.replace(/\n$/, ""));
  };
  // Everything opened, closed in reverse on every way out (a start that fails, e.g. on a port in use,
  // must not keep the embedded engine locked and the process alive).
  const closers: Array<() => Promise<unknown> | unknown> = [];
  let devLog: MigrationLog | undefined;
  try {
    // The app's code may leave a promise unawaited (moose-lib's templates call OlapTable.insert so): its
    // failure is the app's error, printed with its .ts position, and never stops dev.
    const onRejection = (reason: unknown) => say(`✗ unhandled rejection in the app's code: ${describeAppError(reason, io.cwd)}`);
    process.on("unhandledRejection", onRejection);
    closers.push(() => process.off("unhandledRejection", onRejection));
    // Listen for Ctrl-C from the start: a stop during start-up then closes cleanly too.
    const stopped = io.stopped();
    // A Moose config's loopback servers are run here, embedded (see devConfig).
    const config = opensEmbedded(devConfig(await loadProject(io)));
    log = openLogFile(config.paths.logFile);
    const migrations = migrationLog(config.paths.logFile, "dev", projectMigrations(config));
    devLog = migrations;
    const ledger = await projectLedger(config, VERSION, { local: true });
    closers.push(() => ledger.close());
    // Temporal on this machine that does not answer (Moose would start it in Docker): the embedded workflow engine.
    const workflows = await devWorkflowEngine(config, say);
    const engines = await openDeployEngines(config, { streams: config.features.streamingEngine, workflows: true }, workflows ? { workflowEngine: workflows } : {});
    closers.push(() => engines.close());
    // The direct connection of a Moose config: ClickHouse's HTTP interface at host:host_port, from the engine dev holds.
    let clickhouseUrl: string | undefined;
    if (config.devInfra.clickhouse) {
      const { startClickHouseHttp } = await import("../../lib/dev/clickhouse-http.js");
      const served = await startClickHouseHttp({ ...config.devInfra.clickhouse, olap: engines.olap, log: (line) => log?.write(line) });
      closers.push(() => served.close());
      clickhouseUrl = served.url;
    }
    const { ask } = io;
    const session = new DevSession({
      config,
      engines,
      ledger,
      toolVersion: VERSION,
      confirmDataLoss: (plan) => confirm(plan, args.acceptDataLoss, io, say),
      // Only a person at a terminal decides that a drop + add is a rename; otherwise nothing is guessed.
      ...(ask ? { resolveRename: (s: RenameSuggestion) => askRename(s, ask, say) } : {}),
      onDeployEvent: migrations.event,
    });
    const started = await session.start();
    for (const m of started.deployed?.migrations ?? []) migrations.outcome(m.id, m);
    for (const id of started.adopted) say(`✓ ${id} is already applied by this dev database: recorded`);
    for (const r of started.reconciled) say(`! the database differed from the recorded state (${r}); planning from the database`);
    const applied = started.deployed?.migrations.filter((m) => m.status === "applied").length ?? 0;
    if (applied > 0) say(`✓ applied ${applied} committed migration${applied === 1 ? "" : "s"}`);

    const token = newDevToken();
    const server = await startDevServer({
      config,
      session,
      engines,
      ledger,
      token,
      port: args.port ?? config.httpServer.port,
      log: (line) => log?.write(line),
      appLog: say,
      ...(workflows ? { workflows } : {}),
    });
    closers.push(() => server.close());
    if (server.managementError) io.stderr.write(`warning: ${server.managementError}\n`);
    writeDevInstance(config.paths.stateDir, { pid: process.pid, url: server.url, token });
    closers.push(() => removeDevInstance(config.paths.stateDir));
    say(
      [
        `moose dev ${VERSION}`,
        `  server   ${server.url}  (GET /health, POST /ingest/<name>, GET /api/<name>)${server.managementUrl ? `; management ${server.managementUrl}` : ""}`,
        `  engines  ClickHouse ${config.olap.engine === "embedded" ? `embedded, data in ${relative(config.projectDir, config.olap.dataDir)}` : `server ${config.olap.host}:${config.olap.port}`}; streams ${config.streaming.engine}`,
        ...(config.features.workflows
          ? [
              workflows
                ? `  workflows embedded (nothing answers at ${config.temporal.address}); state in ${relative(config.projectDir, workflowStateFile(config))}; moose workflow run <name>`
                : `  workflows Temporal at ${config.temporal.address}, namespace ${config.temporal.namespace}`,
            ]
          : []),
        ...(clickhouseUrl ? [`  clickhouse ${clickhouseUrl}  (ClickHouse HTTP interface, user ${config.devInfra.clickhouse?.user ?? ""})`] : []),
        `  ledger   ${relative(config.projectDir, config.paths.ledgerPath)}; draft migrations/${DRAFT_FILE}; log ${relative(config.projectDir, config.paths.logFile)}`,
        `  watching ${relative(config.projectDir, config.paths.appDir) || "."}/ and ${relative(config.projectDir, config.paths.migrationsDir)}/ (Ctrl-C to stop)`,
      ].join("\n"),
    );

    let running: Promise<void> | undefined;
    let again = false;
    let loaded = false;
    /** The files of saves made while a cycle ran: the next cycle is about them, not about the first one. */
    const pending = new Set<string>();
    const runCycle = async (first: string): Promise<void> => {
      if (running) {
        again = true;
        for (const f of first.split(", ")) pending.add(f);
        return;
      }
      let reason = first;
      running = (async () => {
        do {
          if (again) {
            reason = [...pending].join(", ");
            pending.clear();
          }
          again = false;
          const t0 = performance.now();
          const result = await session.cycle();
          const ms = performance.now() - t0;
          present(result, reason, ms, say, io);
          migrations.save(reason, result, ms);
          // The first load of the app comes when the engine has just grown by everything the first cycle
          // applied and the heap still holds that cycle's garbage: collected first, the load's own garbage
          // lands in a smaller heap (peak RSS at 1,000 tables 608-613 -> 571-584 MB, five runs each). Later
          // saves skip it: a collection before every reload slowed the loop (README, *Dev memory*).
          if (!loaded) collectGarbage();
          loaded = true;
          // Handlers run the code as saved; the last good ones keep serving when it does not load.
          const loadError = await server.refresh(result.kind !== "invalid");
          if (loadError) say(`! API handlers not reloaded: ${loadError instanceof MooseError ? loadError.located : String(loadError)}`);
          if (!again) collectGarbage();
        } while (again);
      })().finally(() => (running = undefined));
      await running;
    };
    // Watch first (and wait until the watcher is ready), so no save made during the first cycle is missed.
    const ignoredByConfig = watchIgnorer(config.paths.appDir, config.watcher.ignorePatterns);
    const watcher = await watchSaves({
      projectDir: config.projectDir,
      paths: [config.paths.appDir, config.paths.migrationsDir],
      ignored: (path: string) =>
        path.includes("node_modules") || path.endsWith(DRAFT_FILE) || /\/\.[^/]*$/.test(path) || ignoredByConfig(path),
      // Editors save through temporary files: only what still exists is named.
      onSave: (files) => {
        const reason = files.length > 0 ? files.join(", ") : "app changed";
        void runCycle(reason).catch((error: unknown) => say(`error: ${error instanceof Error ? error.message : String(error)}`));
      },
    });
    closers.push(() => watcher.close());
    await runCycle("start");

    await stopped;
    say("stopping moose dev");
    await watcher.close();
    await running;
    return ExitCode.success;
  } catch (error) {
    const code = reportError(error, io);
    devLog?.error(error);
    return code;
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
  }
}

/**
 * A full garbage collection once a save is done and printed, while dev waits for the next one.
 * One save at 1,000 tables leaves about 100 MB of garbage (extraction, plan, the draft rendered
 * again) that V8 otherwise lets pile up over several saves before it collects it: that, not the
 * live heap, set dev's peak RSS (see README *Performance*). Node.js has no API for it: V8's gc
 * is exposed for this process only (as jest's leak detector does) and fetched from a new context.
 */
let gcFunction: (() => void) | undefined | null;
function collectGarbage(): void {
  if (process.env.MOOSE_DEV_NO_GC === "1") return;
  if (gcFunction === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFunction = runInNewContext("gc") as () => void;
    } catch {
      gcFunction = null;
    }
  }
  gcFunction?.();
}

async function askRename(s: RenameSuggestion, ask: NonNullable<CliIO["ask"]>, say: (t: string) => void): Promise<boolean> {
  const what = s.kind === "table" ? `table ${s.from} is gone and ${s.to} is new (same columns)` : `${s.table}.${s.from} is gone and ${s.table}.${s.to} is new (both ${s.type})`;
  const answer = await ask(`${what}.\nRename ${s.from} to ${s.to}, keeping the data? [Y/n] `);
  const yes = !/^n(o)?$/i.test(answer.trim());
  say(yes ? `rename ${s.from} → ${s.to}` : `drop ${s.from} and add ${s.to} (the drop needs confirming)`);
  return yes;
}

async function confirm(plan: Plan, accepted: boolean, io: CliIO, say: (t: string) => void): Promise<boolean> {
  const losing = plan.steps.filter((s) => s.risk.losesData && !guardedByPreflight(s.change));
  const lines = losing.map((s) => `  ⚠ ${RISK_CODES[s.risk.code].meaning}: ${describe(s.change)}`);
  if (accepted) {
    say(`Data loss accepted (--accept-data-loss):\n${lines.join("\n")}`);
    return true;
  }
  if (!io.ask) {
    say(`These changes lose data and were NOT applied:\n${lines.join("\n")}\n  Confirm in a terminal, or restart with --accept-data-loss; nothing else of this change was applied.`);
    return false;
  }
  io.stdout.write(`${renderPlanText(plan)}These changes lose data:\n${lines.join("\n")}\n`);
  const answer = await io.ask("Apply them? [y/N] ");
  const yes = /^y(es)?$/i.test(answer.trim());
  say(yes ? "data loss confirmed" : "not applied: answer was no (the code and the database now differ until you change either)");
  return yes;
}

/** `Users.email`, `table Users`, `Users (table.setTtl)`: the object a losing change is about. */
function describe(change: Change): string {
  if (change.kind === "table.dropColumn") return `${change.table}.${change.column.name}`;
  const [subject] = subjects(change);
  if (change.kind === "table.drop" || change.kind === "topic.drop") return `${subject!.collection.replace(/s$/, "")} ${subject!.name}`;
  return subject!.collection === "tables" ? `${subject!.name} (${change.kind})` : `${change.kind} ${subject!.name}`;
}

/** A plan step as migration files call it: `addColumn("Users", …)`, `createTopic("Users")` (the kind is in the name). */
function planStepLabel(plan: Plan, index: number): string {
  const step = plan.steps[index];
  return step ? stepLabel(stepOf(step.change, undefined)) : `step ${index + 1}`;
}

/** One line per step that ran, with its time: `  ✓ 1/2 addColumn("Users", …)  3 ms`. */
function stepLines(plan: Plan, stepMs: readonly number[]): string {
  return stepMs.map((ms, i) => `  ✓ ${i + 1}/${plan.steps.length} ${planStepLabel(plan, i)}  ${ms.toFixed(0)} ms\n`).join("");
}

function present(result: CycleResult, reason: string, totalMs: number, say: (t: string) => void, io: CliIO): void {
  const head = reason === "start" ? "" : `⟳ ${reason}\n`;
  switch (result.kind) {
    case "invalid":
      say(
        `${head}✗ the app has errors; the last good state is kept:\n${result.errors
          .map((e) => `  error[${e.code}]: ${e.located}${e.hint ? `\n    hint: ${e.hint}` : ""}`)
          .join("\n")}`,
      );
      return;
    case "unchanged":
      for (const w of result.warnings) io.stderr.write(`warning: ${w}\n`);
      if (reason !== "start") say(`${head}No changes (${result.extractMs.toFixed(0)} ms)`);
      else say("The database matches the code.");
      return;
    case "needs-approval":
      say(`${head}${renderPlanText(result.plan)}⏸ waiting for approval: nothing applied`);
      return;
    case "stale-answer":
      say(`${head}✗ the code changed while the question was open; the answer was about the plan before it: nothing applied; planning again for the code as it is now`);
      return;
    case "held":
      say(`${head}${renderPlanText(result.plan)}`);
      return;
    case "applied": {
      const text = result.plan.steps.length > 0 ? renderPlanText(result.plan) + stepLines(result.plan, result.stepMs) : "";
      const adopted = result.adopted.map((id) => `✓ ${id} matches the database: recorded as applied\n`).join("");
      const draft = result.draft ? `draft ${result.draft}` : "no uncommitted changes";
      say(
        `${head}${text}${adopted}✓ applied ${result.plan.steps.length} step${result.plan.steps.length === 1 ? "" : "s"} in ${totalMs.toFixed(0)} ms (extract ${result.extractMs.toFixed(0)} ms, apply ${result.applyMs.toFixed(0)} ms) · ${draft}`,
      );
      return;
    }
    case "failed":
      say(
        `${head}${renderPlanText(result.plan)}${stepLines(result.plan, [])}✗ step ${result.failedStep + 1}/${result.plan.steps.length} ${planStepLabel(result.plan, result.failedStep)} failed after ${result.applied} applied step${result.applied === 1 ? "" : "s"}: ${result.error}\n  the next save re-plans from the database's real state`,
      );
      return;
  }
}

