import { ExitCode } from "../../lib/errors.js";
import type { InfraMap, TableEngine } from "../../lib/model/infra-map.js";
import { extractProject } from "../../lib/project/plan-project.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject, printWarnings } from "../project.js";
import { renderTable } from "../present/table.js";

type Kind = "table" | "view" | "topic" | "api" | "workflow" | "process";

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
      kind: "topic",
      title: "Streaming Topics",
      header: ["name", "partitions", "retention", "fields"],
      rows: Object.values(map.topics).map((t) => [t.name, String(t.partitions), t.retentionMs === undefined ? "default" : `${t.retentionMs / 1000}s`, String(t.columns.length)]),
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

function engineName(e: TableEngine): string {
  return e.kind;
}

const COLLECTION: Record<Kind, keyof Omit<InfraMap, "version">> = {
  table: "tables",
  view: "views",
  topic: "topics",
  api: "apis",
  workflow: "workflows",
  process: "processes",
};

export async function run(args: Record<string, unknown>, io: CliIO): Promise<number> {
  const json = Boolean(args["json"]);
  const only = args["type"] as Kind | undefined;
  try {
    const config = await loadProject(io);
    const app = extractProject(config);
    printWarnings(app.warnings, io);
    if (json) {
      const out: Record<string, unknown> = {};
      for (const kind of Object.keys(COLLECTION) as Kind[]) {
        if (only && only !== kind) continue;
        out[COLLECTION[kind]] = Object.values(app.map[COLLECTION[kind]]).map((o) => ({ ...o, declaredAt: app.locations[`${COLLECTION[kind]}:${o.name}`] }));
      }
      io.stdout.write(JSON.stringify({ ok: true, declared: out }, null, 2) + "\n");
      return ExitCode.success;
    }
    const blocks: string[] = [];
    for (const l of listings(app.map)) {
      if (only && only !== l.kind) continue;
      if (l.rows.length === 0 && !only) continue;
      blocks.push(`${l.title} (${l.rows.length})\n${l.rows.length === 0 ? "  (none)\n" : renderTable(l.header, l.rows)}`);
    }
    io.stdout.write(blocks.length === 0 ? "No infrastructure declared in the app yet.\n" : blocks.join("\n"));
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}
