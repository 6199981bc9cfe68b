import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import test from "ava";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadedConfig } from "../../lib/config/config.js";
import { type OlapEngine } from "../../lib/engines/olap/engine.js";
import { uniqueDatabase } from "./olap-fixtures.js";
import type { ExtractedApp, RenameHints } from "../../lib/extract/extract-app.js";
import { openLedger, type Ledger } from "../../lib/ledger/index.js";
import { deploy, type DeployReport } from "../../lib/migrations/apply/deploy.js";
import { readMigrations, type MigrationFile } from "../../lib/migrations/files/read.js";
import { renderMigration, timestampId } from "../../lib/migrations/files/render.js";
import { rollback, type RollbackReport } from "../../lib/migrations/apply/rollback.js";
import { replayMigrations } from "../../lib/migrations/files/sequence.js";
import type { InfraMap } from "../../lib/model/infra-map.js";
import { planAgainst, type PlanOptions, type PlanReport } from "../../lib/project/plan-project.js";
import { liveDrift } from "../../lib/migrations/apply/status.js";
import { openOlapEngine } from "../../lib/engines/olap/open.js";

/**
 * A project without an app file: the desired state is an InfraMap (what the extractor
 * would return) and rename hints beside it, planned with the same planner and written
 * with the same renderer as `moose migrate generate`; files are read back from disk and
 * deployed with `deploy` on a real (embedded) ClickHouse and a real SQLite ledger.
 */
export class EvolveProject {
  readonly migrationsDir: string;
  private clock = Date.UTC(2026, 10, 26, 3, 15, 0);

  private constructor(
    readonly dir: string,
    readonly olap: OlapEngine,
    readonly ledger: Ledger,
  ) {
    this.migrationsDir = join(dir, "migrations");
    mkdirSync(this.migrationsDir, { recursive: true });
  }

  static async open(olap: OlapEngine): Promise<EvolveProject> {
    const dir = mkdtempSync(join(tmpdir(), "moose-evolve-"));
    return new EvolveProject(dir, olap, await openLedger(join(dir, "ledger.sqlite"), { toolVersion: "0.1.0-test" }));
  }

  files(): MigrationFile[] {
    return readMigrations(this.migrationsDir);
  }

  /** The state the committed files lead to. */
  state(): InfraMap {
    return replayMigrations(this.files()).state;
  }

  /** Plans `desired` against the committed files without writing anything (`moose plan`). */
  plan(desired: InfraMap, renames?: Partial<RenameHints>, options: PlanOptions = {}): PlanReport {
    return planAgainst(app(desired, renames), this.state(), { kind: "migrations", count: this.files().length }, options);
  }

  /** `moose migrate generate`: writes the next migration file; undefined when there is nothing to write. */
  generate(desired: InfraMap, renames?: Partial<RenameHints>, options: PlanOptions = {}, slug = "change"): { id: string; text: string; report: PlanReport } | undefined {
    this.clock += 60_000;
    const stamp = timestampId(new Date(this.clock));
    const report = this.plan(desired, renames, { rebuildSuffix: stamp, ...options });
    if (report.plan.steps.length === 0) return undefined;
    const id = `${stamp}_${slug}`;
    const text = renderMigration({ id, plan: report.plan, parent: report.fromHash, result: report.resultHash, toolVersion: "0.1.0-test" });
    writeFileSync(join(this.migrationsDir, `${id}.ts`), text);
    return { id, text, report };
  }

  /** A migration file's text. */
  read(id: string): string {
    return readFileSync(join(this.migrationsDir, `${id}.ts`), "utf8");
  }

  /** Edits a migration file, as a reviewer would. */
  edit(id: string, from: string | RegExp, to: string): void {
    const text = this.read(id);
    const next = text.replace(from, to);
    if (next === text) throw new Error(`${id} has no ${String(from)}`);
    writeFileSync(join(this.migrationsDir, `${id}.ts`), next);
  }

  /** Writes `approveDataLoss: true` on every step of the file that asks for it. */
  approve(id: string): void {
    this.edit(id, /approveDataLoss: false/g, "approveDataLoss: true");
  }

  deploy(): Promise<DeployReport> {
    return deploy(this.files(), this.ledger, async () => ({ olap: this.olap, close: async () => {} }));
  }

  /** `moose migrate rollback [--to]`; `acceptDataLoss` (`--accept-data-loss`) is on unless said otherwise. */
  rollback(to?: string, options: { readonly acceptDataLoss?: boolean; readonly dryRun?: boolean } = {}): Promise<RollbackReport> {
    return rollback(this.files(), this.ledger, async () => ({ olap: this.olap, close: async () => {} }), {
      acceptDataLoss: options.acceptDataLoss ?? true,
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(to === undefined ? {} : { to }),
    });
  }

  /** What differs between the live database and the applied state (empty when they agree). */
  drift(): Promise<string[]> {
    return liveDrift(this.state(), this.olap);
  }

  /** The fields of LoadedConfig that migration-folder commands read. */
  config(): LoadedConfig {
    return { projectDir: this.dir, paths: { migrationsDir: this.migrationsDir } } as unknown as LoadedConfig;
  }

  migrationIds(): string[] {
    return readdirSync(this.migrationsDir).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, "")).sort();
  }

  async close(): Promise<void> {
    await this.ledger.close();
  }
}

/** What the extractor would return for `map`. */
export function app(map: InfraMap, renames: Partial<RenameHints> = {}): ExtractedApp {
  return { map, renames: { tables: renames.tables ?? [], columns: renames.columns ?? [] }, locations: {}, warnings: [], files: [] };
}

/**
 * Row count and an order-independent checksum of a table's data: the sum of
 * `cityHash64` over the values as text, so a value reads the same after a rename or a
 * widening (`5` as Int32 and as Int64), and a row that changes changes the sum.
 */
export async function fingerprint(olap: OlapEngine, table: string, columns: readonly string[]): Promise<{ rows: number; checksum: string }> {
  const values = columns.map((c) => `ifNull(toString(\`${c}\`), '\\N')`).join(", ");
  // Aliases no test column is called (columns `n` and `h` exist in some).
  const [row] = await olap.query<{ _fp_rows: string; _fp_sum: string }>(`SELECT toString(count()) AS _fp_rows, toString(sum(cityHash64(${values}))) AS _fp_sum FROM \`${table}\``);
  return { rows: Number(row?._fp_rows ?? -1), checksum: String(row?._fp_sum ?? "") };
}

/**
 * Embedded projects for one test file: chDB holds one data directory per process, so
 * every project gets its own database in one shared directory, all closed (and the
 * directory removed) after the file's tests.
 *
 * @example const projects = embeddedProjects("crash"); const p = await projects.open();
 */
export function embeddedProjects(prefix: string): { open(): Promise<EvolveProject> } {
  const dataDir = mkdtempSync(join(tmpdir(), `moose-${prefix}-`));
  const opened: Array<{ close(): Promise<void> }> = [];
  test.after.always(async () => {
    for (const o of opened.reverse()) await o.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    async open() {
      const olap = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
      const p = await EvolveProject.open(olap);
      opened.push(p, olap);
      return p;
    },
  };
}
