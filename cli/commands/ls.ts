import { ExitCode } from "../../lib/errors.js";
import { plainViewsOf, sqlResourcesOf, type InfraMap, type TableEngine } from "../../lib/model/infra-map.js";
import { extractProject } from "../../lib/project/plan-project.js";
import type { LoadedConfig } from "../../lib/config/config.js";
import { inventory, type InventoryEntry } from "../../lib/project/inventory.js";
import { projectLedger, projectOlap } from "../../lib/project/engines.js";
import { runningDevInstance } from "../../lib/dev/instance.js";
import { VERSION } from "../version.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProjectForReading, printWarnings } from "../project.js";
import { renderTable } from "../present/table.js";
import { msText } from "../present/plan-text.js";
import type { LsArgs } from "./ls.args.js";
import { dot, lineage, lineageSvg, mermaid } from "../../lib/project/lineage.js";

type Kind = NonNullable<LsArgs["type"]>;

/** One listing per kind: heading, columns and rows, all from the InfraMap. */
function listings(map: InfraMap): Array<{ kind: Kind; title: string; header: string[]; rows: string[][] }> {
  return [
    {
      kind: "table",
      title: "OLAP Tables",
      header: ["name", "columns", "order by", "engine", "partition by", "life cycle"],
      rows: Object.values(map.tables).map((t) => [
        t.name,
        String(t.columns.length),
        t.orderBy.length === 0 ? "tuple()" : t.orderBy.join(", "),
        engineName(t.engine),
        t.partitionBy ?? "",
        t.lifeCycle,
      ]),
    },
    {
      kind: "view",
      title: "Materialized Views",
      header: ["name", "reads", "writes to"],
      rows: Object.values(map.views).map((v) => [v.name, v.sourceTables.join(", "), v.targetTable]),
    },
    {
      kind: "plain-view",
      title: "Views",
      header: ["name", "reads"],
      rows: Object.values(plainViewsOf(map)).map((v) => [v.name, v.sourceTables.join(", ")]),
    },
    {
      kind: "sql-resource",
      title: "SQL Resources",
      header: ["name", "setup", "teardown", "pulls data from", "pushes data to"],
      rows: Object.values(sqlResourcesOf(map)).map((r) => [r.name, `${r.setup.length} statement(s)`, `${r.teardown.length} statement(s)`, r.pullsDataFrom.join(", "), r.pushesDataTo.join(", ")]),
    },
    {
      kind: "topic",
      title: "Streaming Topics",
      header: ["name", "partitions", "retention", "fields"],
      rows: Object.values(map.topics).map((t) => [t.name, String(t.partitions), msText(t.retentionMs), String(t.columns.length)]),
    },
    {
      kind: "api",
      title: "API Endpoints",
      header: ["path", "kind", "destination"],
      rows: Object.values(map.apis).map((a) => [`/${a.name}`, a.kind === "ingest" ? "ingest (POST)" : "consumption (GET)", a.destination ?? ""]),
    },
    {
      kind: "workflow",
      title: "Workflows",
      header: ["name", "schedule", "retries", "timeout", "paused"],
      rows: Object.values(map.workflows).map((w) => [w.name, w.schedule ?? "(on demand)", String(w.retries), w.timeout ?? "", w.paused ? "yes" : "no"]),
    },
    {
      kind: "process",
      title: "Background Processes",
      header: ["name", "from topic", "to table"],
      rows: Object.values(map.processes).map((p) => [p.name, p.sourceTopic, p.targetTable]),
    },
  ];
}

/** Ledger state (and live presence) per object; empty when the ledger or engine cannot be read. */
async function currentStates(config: LoadedConfig, code: InfraMap): Promise<InventoryEntry[]> {
  const ledger = await projectLedger(config, VERSION);
  try {
    // The embedded engine is held by a running `moose dev`: list without the live check then.
    const busy = config.olap.engine === "embedded" && runningDevInstance(config.paths.stateDir) !== undefined;
    const olap = busy ? undefined : await projectOlap(config).catch(() => undefined);
    try {
      return await inventory(config, code, ledger, olap);
    } finally {
      await olap?.close();
    }
  } finally {
    await ledger.close();
  }
}

function stateOf(states: readonly InventoryEntry[], kind: string, name: string): { state?: string; live?: boolean } {
  const e = states.find((x) => x.kind === kind && x.name === name);
  return e ? { state: e.state, ...(e.live === undefined ? {} : { live: e.live }) } : {};
}

function statusText(s: { state?: string; live?: boolean }): string {
  const words: Record<string, string> = { applied: "applied", changed: "changed (pending migration)", new: "new (pending migration)", removed: "removed in code (pending migration)" };
  const base = s.state ? (words[s.state] ?? s.state) : "";
  if (s.live === undefined) return base;
  if (s.state === "new" || s.state === "removed") return `${base}${s.live ? ", exists live" : ""}`;
  return `${base}${s.live ? "" : ", MISSING live"}`;
}

function engineName(e: TableEngine): string {
  return e.kind;
}

const COLLECTION: Record<Kind, keyof Omit<InfraMap, "version">> = {
  table: "tables",
  view: "views",
  "plain-view": "plainViews",
  "sql-resource": "sqlResources",
  topic: "topics",
  api: "apis",
  workflow: "workflows",
  process: "processes",
};

export async function run(args: LsArgs, io: CliIO): Promise<number> {
  const { json, type: only } = args;
  try {
    const config = await loadProjectForReading(io);
    const app = extractProject(config);
    printWarnings(app.warnings, io);
    if (args.graph) {
      const graph = lineage(app.map, app.flows);
      io.stdout.write(args.format === "dot" ? dot(graph) : args.format === "svg" ? lineageSvg(graph) : mermaid(graph));
      return ExitCode.success;
    }
    const states = await currentStates(config, app.map);
    if (json) {
      const out: Record<string, unknown> = {};
      for (const kind of Object.keys(COLLECTION) as Kind[]) {
        if (only && only !== kind) continue;
        out[COLLECTION[kind]] = Object.values(app.map[COLLECTION[kind]] ?? {}).map((o) => ({
          ...o,
          declaredAt: app.locations[`${COLLECTION[kind]}:${o.name}`],
          ...stateOf(states, COLLECTION[kind], o.name),
        }));
      }
      const removed = states.filter((e) => e.state === "removed" && (!only || COLLECTION[only] === e.kind));
      io.stdout.write(JSON.stringify({ ok: true, declared: out, removedInCode: removed }, null, 2) + "\n");
      return ExitCode.success;
    }
    const blocks: string[] = [];
    for (const l of listings(app.map)) {
      if (only && only !== l.kind) continue;
      const kind = COLLECTION[l.kind];
      const names = Object.keys(app.map[kind] ?? {});
      const rows = l.rows.map((r, i) => [...r, statusText(stateOf(states, kind, names[i]!))]);
      for (const e of states.filter((x) => x.kind === kind && x.state === "removed")) rows.push([e.name, ...l.header.slice(1).map(() => ""), statusText(e)]);
      if (rows.length === 0 && !only) continue;
      blocks.push(`${l.title} (${rows.length})\n${rows.length === 0 ? "  (none)\n" : renderTable([...l.header, "status"], rows)}`);
    }
    io.stdout.write(blocks.length === 0 ? "No infrastructure declared in the app yet.\n" : blocks.join("\n"));
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}
