import type { RunEvent } from "../migrations/apply/runner.js";
import { declaredDatabases } from "../model/clickhouse-quote.js";
import { canonicalJson } from "../model/infra-map.js";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import { diff } from "../diff/diff.js";
import { renameHints, type RenameResolver, type RenameSuggestion } from "../diff/rename-suggestions.js";
import { InvalidInputErrors, MooseError } from "../errors.js";
import { AppExtractor, type ExtractedApp } from "../extract/extract-app.js";
import type { Ledger } from "../ledger/ledger.js";
import { checksumOf } from "../ledger/checksum.js";
import { deploy, type DeployEngines, type DeployReport } from "../migrations/apply/deploy.js";
import { assertRuntimeEnv, effectsForSteps, effectText, executeStep } from "../migrations/apply/execute.js";
import { subjectName } from "../diff/change-meta.js";
import { DRAFT_FILE, DRAFT_ID, readDraft, readMigrations, type MigrationFile } from "../migrations/files/read.js";
import { renderMigration, timestampId } from "../migrations/files/render.js";
import { replayMigrations } from "../migrations/files/sequence.js";
import { liveDrift } from "../migrations/apply/status.js";
import { learnSqlResources } from "../engines/olap/sql-resource-policy.js";
import { sqlResourceRelations } from "../model/sql-resource-facts.js";
import { applyChange } from "../model/apply-change.js";
import { infraMapHasher, plainViewsOf, withPlainViews, type InfraMap } from "../model/infra-map.js";
import { plan as planChanges, type Plan } from "../plan/plan.js";
import { guardedByPreflight } from "../plan/risk.js";
import { applicableHints, checkAppSql, planAgainst } from "../project/plan-project.js";
import { checkTopicChanges } from "../engines/stream/topic-spec.js";

function suggestionKey(s: RenameSuggestion): string {
  return s.kind === "table" ? `table:${s.from}>${s.to}` : `column:${s.table}.${s.from}>${s.to}`;
}

/** What one save did, for the CLI to print. */
export type CycleResult =
  | { readonly kind: "invalid"; readonly errors: readonly MooseError[]; readonly extractMs: number }
  | { readonly kind: "unchanged"; readonly extractMs: number; readonly warnings: readonly string[] }
  /** Nothing can be applied: the remaining differences are held back by life cycles (`plan.held`). */
  | { readonly kind: "held"; readonly plan: Plan; readonly extractMs: number }
  | { readonly kind: "needs-approval"; readonly plan: Plan; readonly extractMs: number }
  /** The code changed while the data-loss question was open: the answer was about another plan, nothing applied. */
  | { readonly kind: "stale-answer"; readonly plan: Plan; readonly extractMs: number }
  | {
      readonly kind: "applied";
      readonly plan: Plan;
      readonly extractMs: number;
      readonly applyMs: number;
      /** How long each of the plan's steps took, in order. */
      readonly stepMs: readonly number[];
      readonly draft: string | undefined;
      readonly adopted: readonly string[];
      readonly warnings: readonly string[];
    }
  | {
      readonly kind: "failed";
      readonly plan: Plan;
      readonly failedStep: number;
      readonly error: string;
      readonly applied: number;
      readonly extractMs: number;
    };

export interface StartResult {
  readonly deployed: DeployReport | undefined;
  /** Objects whose live definition differed from the recorded one and was taken as the truth. */
  readonly reconciled: readonly string[];
  readonly adopted: readonly string[];
}

export interface DevSessionOptions {
  readonly config: LoadedConfig;
  readonly engines: DeployEngines;
  readonly ledger: Ledger;
  readonly toolVersion: string;
  /** Asked before any step that loses data runs; the CLI prompts or reads a flag. */
  readonly confirmDataLoss: (plan: Plan) => Promise<boolean>;
  /**
   * Asked once per drop + add that looks like a rename (same type, similar name); `true`
   * applies a rename instead. Without it nothing is guessed: the drop needs confirming.
   */
  readonly resolveRename?: RenameResolver;
  /** Events of the deploy of committed migrations at start (the migration log). */
  readonly onDeployEvent?: (event: RunEvent) => void;
}

/**
 * The state machine behind `moose dev`. The database follows the code: every
 * save is diffed against the state the database is in (`live`), the changes
 * are applied step by step with the same executor as `migrate deploy`, and the
 * net change since the last applied migration is kept as one rolling draft,
 * `migrations/.draft.ts` (ledger id `.draft`). When a committed migration's
 * result equals the live state — `moose migrate generate` just wrote it from the
 * same code — it is recorded as applied without running again ("adopted").
 */
export class DevSession {
  private readonly extractor: AppExtractor;
  private live: InfraMap;
  /** Set after a failed apply: the next cycle first re-reads the real state. */
  private suspect = false;
  private lastApp: ExtractedApp | undefined;
  /** Answers to rename suggestions, so each is asked once per session (`table:A>B`, `column:T.a>b`). */
  private readonly answered = new Map<string, boolean>();
  private readonly acceptedRenames: RenameSuggestion[] = [];
  /** Renames applied since the last committed migration, so the draft shows them as renames. */
  private readonly appliedRenames: RenameSuggestion[] = [];
  /**
   * hashInfraMap for the states this session holds, which share most entries from one save to
   * the next: an unchanged entry's text is written once, not again by each hash of every save.
   */
  private readonly hash = infraMapHasher();

  constructor(private readonly options: DevSessionOptions) {
    this.extractor = new AppExtractor({ projectDir: options.config.projectDir, mainFile: options.config.paths.mainFile, topicRetentionMs: options.config.streaming.retentionMs, database: options.config.olap.database, clusters: (options.config.olap.clusters ?? []).map((c) => c.name) });
    this.live = replayMigrations([]).state;
  }

  /** The state the database is believed to be in (served by the dev server). */
  get state(): InfraMap {
    return this.live;
  }

  /** The last app that extracted cleanly. */
  get app(): ExtractedApp | undefined {
    return this.lastApp;
  }

  private get migrationsDir(): string {
    return this.options.config.paths.migrationsDir;
  }

  private display(path: string): string {
    return relative(this.options.config.projectDir, path) || path;
  }

  private committedCache: { readonly signature: string; readonly files: MigrationFile[] } | undefined;

  /**
   * The committed migration files, re-read only when the folder changed: every
   * save needs them (draft, adoption), and parsing them all each time would make
   * the dev loop slower as history grows.
   */
  private committed(): MigrationFile[] {
    const signature = folderSignature(this.migrationsDir);
    if (this.committedCache?.signature === signature) return this.committedCache.files;
    const files = readMigrations(this.migrationsDir, this.display(this.migrationsDir));
    this.committedCache = { signature, files };
    return files;
  }

  /** Applied committed migrations, as a state. */
  private async appliedState(files: readonly MigrationFile[]): Promise<InfraMap> {
    const records = await this.options.ledger.list();
    const applied = new Set(records.filter((r) => r.status === "applied" && r.id !== DRAFT_ID).map((r) => r.id));
    const prefix: MigrationFile[] = [];
    for (const f of files) {
      if (!applied.has(f.id)) break;
      prefix.push(f);
    }
    return replayMigrations(prefix).state;
  }

  /**
   * Brings the session up: with no draft, pending committed migrations are
   * deployed as `migrate deploy` would; with a draft, the database is at the
   * draft's result, which is checked against the live objects.
   */
  async start(): Promise<StartResult> {
    const { ledger, engines } = this.options;
    const files = this.committed();
    const records = await ledger.list();
    const draftRecord = records.find((r) => r.id === DRAFT_ID);
    let deployed: DeployReport | undefined;
    if (!draftRecord) {
      deployed = await deploy(files, ledger, async () => ({ ...engines, close: async () => {} }), { lockWaitMs: 0, ...(this.options.onDeployEvent ? { onEvent: this.options.onDeployEvent } : {}) });
    }
    const applied = await this.appliedState(files);
    const draft = draftRecord ? readDraft(this.migrationsDir, this.display(this.migrationsDir)) : undefined;
    this.live = draft && draft.parent === this.hash(applied) ? replayMigrations([draft], applied).state : applied;
    const reconciled = await this.reconcile();
    const adopted = await this.adopt(files);
    return { deployed, reconciled, adopted };
  }

  /**
   * Re-reads the live OLAP objects that differ from the believed state and
   * takes them as the truth, so a failed or interrupted apply never leaves the
   * session planning from a state the database is not in.
   */
  private async reconcile(): Promise<string[]> {
    const differences = await liveDrift(this.live, this.options.engines.olap);
    if (differences.length === 0) return [];
    const introspected = await this.options.engines.olap.introspect(declaredDatabases(Object.keys(this.live.tables)));
    // What the SQL resources create is theirs: never taken as tables or views of the state.
    await learnSqlResources(this.live);
    const theirs = sqlResourceRelations(this.live);
    const mine = <T>(objs: Readonly<Record<string, T>>): Record<string, T> => Object.fromEntries(Object.entries(objs).filter(([k]) => !theirs.has(k)));
    const tables = mine(introspected.tables);
    const views = mine(introspected.views);
    for (const [name, t] of Object.entries(tables)) tables[name] = { ...t, lifeCycle: this.live.tables[name]?.lifeCycle ?? t.lifeCycle };
    for (const [name, v] of Object.entries(views)) views[name] = { ...v, lifeCycle: this.live.views[name]?.lifeCycle ?? v.lifeCycle };
    const plain = Object.fromEntries(
      Object.entries(mine(introspected.plainViews)).map(([name, v]) => [name, { ...v, sourceTables: plainViewsOf(this.live)[name]?.sourceTables ?? v.sourceTables }]),
    );
    this.live = withPlainViews({ ...this.live, tables, views }, plain);
    return differences;
  }

  /** Whether the app still declares what `app` did (read again now). */
  private async unchangedSince(app: ExtractedApp): Promise<boolean> {
    try {
      return canonicalJson(this.extractor.extract().map) === canonicalJson(app.map);
    } catch {
      return false;
    }
  }

  /** One save: extract, diff against the live state, confirm data loss, apply, record. */
  async cycle(): Promise<CycleResult> {
    const t0 = performance.now();
    let app: ExtractedApp;
    try {
      app = this.extractor.extract();
      await checkAppSql(app, this.options.config.projectDir);
    } catch (error) {
      if (error instanceof InvalidInputErrors) return { kind: "invalid", errors: error.errors, extractMs: performance.now() - t0 };
      if (error instanceof MooseError && error.exit === "invalidInput") return { kind: "invalid", errors: [error], extractMs: performance.now() - t0 };
      throw error;
    }
    this.lastApp = app;
    const extractMs = performance.now() - t0;
    if (this.suspect) {
      await this.reconcile();
      this.suspect = false;
    }
    await learnSqlResources(this.live);
    const planNow = () =>
      planAgainst(app, this.live, { kind: "migrations", count: 0 }, { renames: renameHints(this.acceptedRenames), rebuildSuffix: timestampId(new Date()) }, this.hash(this.live));
    let report = planNow();
    // Each drop + add that looks like a rename is asked about once per session.
    const fresh = report.suggestions.filter((s) => !this.answered.has(suggestionKey(s)));
    if (fresh.length > 0 && this.options.resolveRename) {
      let accepted = false;
      for (const s of fresh) {
        const yes = await this.options.resolveRename(s);
        this.answered.set(suggestionKey(s), yes);
        if (yes) {
          this.acceptedRenames.push(s);
          accepted = true;
        }
      }
      if (accepted) report = planNow();
    }
    const { changes, plan } = report;
    if (plan.steps.length === 0) {
      const adopted = await this.adopt(this.committed());
      if (adopted.length > 0) return { kind: "applied", plan, extractMs, applyMs: 0, stepMs: [], draft: await this.writeDraft(), adopted, warnings: app.warnings };
      if ((plan.held?.length ?? 0) > 0) return { kind: "held", plan, extractMs };
      return { kind: "unchanged", extractMs, warnings: app.warnings };
    }
    try {
      checkTopicChanges(changes, this.options.config.streaming);
    } catch (error) {
      if (error instanceof MooseError) return { kind: "invalid", errors: [error], extractMs };
      throw error;
    }
    // A narrowing type change needs no confirmation: its pre-flight check stops it while any row would not convert.
    const losing = plan.steps.some((s) => s.risk.losesData && !guardedByPreflight(s.change));
    const confirmed = losing && (await this.options.confirmDataLoss(plan));
    if (losing && !confirmed) {
      return { kind: "needs-approval", plan, extractMs };
    }
    // The answer took time: it only holds for the code it was asked about.
    if (confirmed && !(await this.unchangedSince(app))) return { kind: "stale-answer", plan, extractMs };
    const t1 = performance.now();
    const { engines } = this.options;
    const steps = plan.steps.map((s) => ({ change: s.change, ...(confirmed && s.risk.losesData ? { approved: true } : {}) }));
    const effects = await effectsForSteps(steps, { database: engines.olap.database, capabilities: await engines.olap.capabilities(), state: this.live }, engines.workflows !== undefined);
    // A variable a statement reads (mooseRuntimeEnv.get) that is not set stops the save before any step runs.
    try {
      assertRuntimeEnv(effects, (i) => `step ${i + 1} of this save (${steps[i]!.change.kind} ${subjectName(steps[i]!.change)})`);
    } catch (error) {
      if (error instanceof MooseError) return { kind: "invalid", errors: [error], extractMs };
      throw error;
    }
    const executed: string[][] = [];
    const stepMs: number[] = [];
    for (let i = 0; i < steps.length; i++) {
      const t0 = performance.now();
      try {
        await executeStep(effects[i] ?? [], engines);
        stepMs.push(performance.now() - t0);
      } catch (error) {
        this.suspect = true;
        const message = error instanceof MooseError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
        return { kind: "failed", plan, failedStep: i, error: message, applied: i, extractMs };
      }
      const change = steps[i]!.change;
      this.live = applyChange(this.live, change);
      if (change.kind === "table.rename") this.appliedRenames.push({ kind: "table", from: change.from, to: change.to });
      if (change.kind === "table.renameColumn") this.appliedRenames.push({ kind: "column", table: change.table, from: change.from, to: change.to, type: "" });
      executed.push((effects[i] ?? []).map(effectText));
    }
    const draft = await this.writeDraft(executed);
    const adopted = await this.adopt(this.committed());
    const finalDraft = adopted.length > 0 ? await this.writeDraft() : draft;
    return { kind: "applied", plan, extractMs, applyMs: performance.now() - t1, stepMs, draft: finalDraft, adopted, warnings: app.warnings };
  }

  /**
   * Rewrites the draft as the net plan from the applied committed migrations to
   * the live state, and its ledger row with the statements this save ran.
   * Returns the draft's path, or undefined when there is nothing uncommitted.
   */
  private async writeDraft(executed: readonly string[][] = []): Promise<string | undefined> {
    const { ledger, toolVersion } = this.options;
    const applied = await this.appliedState(this.committed());
    const path = join(this.migrationsDir, DRAFT_FILE);
    // Renames applied in this session stay renames in the draft (those of a column of a renamed table included).
    const net = diff(applied, this.live, { renames: applicableHints(renameHints(this.appliedRenames), applied) });
    await ledger.forget(DRAFT_ID);
    if (net.length === 0) {
      rmSync(path, { force: true });
      return undefined;
    }
    const parent = this.hash(applied);
    const result = this.hash(this.live);
    const text = renderMigration({ id: DRAFT_ID, plan: planChanges(net, { from: applied, to: this.live }), parent, result, toolVersion });
    // A Moose app has no migrations folder until the first draft.
    mkdirSync(this.migrationsDir, { recursive: true });
    writeFileSync(path, text);
    const { checksum, algorithm } = checksumOf(text);
    const record = { id: DRAFT_ID, fileName: DRAFT_FILE, checksum, checksumAlgorithm: algorithm, parentHash: parent, resultHash: result, stepsTotal: executed.length };
    await ledger.begin(record);
    for (let i = 0; i < executed.length; i++) await ledger.stepDone(DRAFT_ID, i, executed[i]!);
    await ledger.complete(DRAFT_ID);
    return this.display(path);
  }

  /**
   * Records committed migrations as applied when the database already is at
   * their result: the newest pending file whose state equals the live state,
   * and every pending file before it.
   */
  async adopt(files: readonly MigrationFile[]): Promise<string[]> {
    const { ledger } = this.options;
    const records = await ledger.list();
    const recorded = new Set(records.map((r) => r.id));
    const replay = replayMigrations(files);
    const liveHash = this.hash(this.live);
    let upTo = -1;
    replay.migrations.forEach((m, i) => {
      if (this.hash(m.after) === liveHash) upTo = i;
    });
    const adopted: string[] = [];
    for (let i = 0; i <= upTo; i++) {
      const f = replay.migrations[i]!.file;
      if (recorded.has(f.id)) continue;
      await ledger.adopt({ id: f.id, fileName: f.fileName, checksum: f.checksum, checksumAlgorithm: f.checksumAlgorithm, parentHash: f.parent, resultHash: f.result, stepsTotal: f.up.length });
      adopted.push(f.id);
    }
    return adopted;
  }
}

/** Names, sizes and modification times of the committed files (hidden ones, like the draft, excluded). */
function folderSignature(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => !n.startsWith("."))
      .sort();
  } catch {
    return "";
  }
  return names
    .map((name) => {
      try {
        const st = statSync(join(dir, name));
        return `${name}:${st.size}:${st.mtimeMs}`;
      } catch {
        return name;
      }
    })
    .join("|");
}
