import type { InfraMap } from "../model/infra-map.js";

/**
 * The lineage of the declared infrastructure as a graph: ingest APIs deliver to a topic or
 * table, topic-to-table syncs carry records on, materialized views read tables and write
 * tables. Every node carries its kind, so a table and a topic of the same name are two
 * nodes. Consumption APIs and workflows have no declared inputs in the model: they are
 * nodes without edges.
 */
export type LineageKind = "api" | "topic" | "table" | "view" | "workflow";

export interface LineageGraph {
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly kind: LineageKind; readonly name: string }>;
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly label?: string }>;
}

const id = (kind: LineageKind, name: string) => `${kind}:${name}`;

export function lineage(map: InfraMap): LineageGraph {
  const nodes: Array<LineageGraph["nodes"][number]> = [];
  const edges: Array<LineageGraph["edges"][number]> = [];
  for (const a of Object.values(map.apis)) nodes.push({ id: id("api", a.name), kind: "api", name: `${a.kind === "ingest" ? "POST" : "GET"} /${a.name}` });
  for (const t of Object.values(map.topics)) nodes.push({ id: id("topic", t.name), kind: "topic", name: t.name });
  for (const t of Object.values(map.tables)) nodes.push({ id: id("table", t.name), kind: "table", name: t.name });
  for (const v of Object.values(map.views)) nodes.push({ id: id("view", v.name), kind: "view", name: v.name });
  for (const w of Object.values(map.workflows)) nodes.push({ id: id("workflow", w.name), kind: "workflow", name: w.name });
  for (const a of Object.values(map.apis)) {
    if (a.kind !== "ingest" || a.destination === undefined) continue;
    const to = map.topics[a.destination] ? id("topic", a.destination) : id("table", a.destination);
    edges.push({ from: id("api", a.name), to });
  }
  for (const p of Object.values(map.processes)) edges.push({ from: id("topic", p.sourceTopic), to: id("table", p.targetTable), label: "sync" });
  for (const v of Object.values(map.views)) {
    for (const s of v.sourceTables) edges.push({ from: id("table", s), to: id("view", v.name) });
    edges.push({ from: id("view", v.name), to: id("table", v.targetTable) });
  }
  return { nodes, edges };
}

/** A Mermaid flowchart (`flowchart LR`): node shape by kind, ids that Mermaid accepts. */
export function mermaid(g: LineageGraph): string {
  const ids = new Map(g.nodes.map((n, i) => [n.id, `${n.kind}${i}`]));
  const label = (text: string) => JSON.stringify(text).replace(/^"|"$/g, "").replace(/\\"/g, "#quot;");
  const shape: Record<LineageKind, (l: string) => string> = {
    api: (l) => `[/"${l}"/]`,
    topic: (l) => `>"${l}"]`,
    table: (l) => `[("${l}")]`,
    view: (l) => `{{"${l}"}}`,
    workflow: (l) => `(["${l}"])`,
  };
  const lines = ["flowchart LR"];
  for (const n of g.nodes) lines.push(`  ${ids.get(n.id)}${shape[n.kind](label(`${n.name} (${n.kind})`))}`);
  for (const e of g.edges) {
    const from = ids.get(e.from);
    const to = ids.get(e.to);
    if (from && to) lines.push(`  ${from} -->${e.label ? `|${e.label}|` : ""} ${to}`);
  }
  return lines.join("\n") + "\n";
}

/** The same graph in Graphviz's DOT language. */
export function dot(g: LineageGraph): string {
  const shape: Record<LineageKind, string> = { api: "parallelogram", topic: "cds", table: "cylinder", view: "hexagon", workflow: "box" };
  const q = (s: string) => JSON.stringify(s);
  const lines = ["digraph lineage {", "  rankdir=LR;"];
  for (const n of g.nodes) lines.push(`  ${q(n.id)} [label=${q(`${n.name}\n(${n.kind})`)}, shape=${shape[n.kind]}];`);
  const known = new Set(g.nodes.map((n) => n.id));
  for (const e of g.edges) if (known.has(e.from) && known.has(e.to)) lines.push(`  ${q(e.from)} -> ${q(e.to)}${e.label ? ` [label=${q(e.label)}]` : ""};`);
  lines.push("}");
  return lines.join("\n") + "\n";
}
