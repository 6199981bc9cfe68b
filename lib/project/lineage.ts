import type { StreamFlow } from "../extract/extract-app.js";
import { plainViewsOf, sqlResourcesOf, type InfraMap } from "../model/infra-map.js";

/**
 * The lineage of the declared infrastructure as a graph: ingest APIs deliver to a topic or
 * table, topic-to-table syncs carry records on, materialized views read tables and write
 * tables, plain views read tables and views, SQL resources pull from and push to what they
 * declare. Every node carries its kind, so a table and a topic of the same name are two
 * nodes. Consumption APIs and workflows have no declared inputs in the model: they are
 * nodes without edges.
 */
export type LineageKind = "api" | "topic" | "table" | "view" | "plainView" | "sqlResource" | "workflow";

export interface LineageGraph {
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly kind: LineageKind; readonly name: string }>;
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly label?: string }>;
}

const id = (kind: LineageKind, name: string) => `${kind}:${name}`;

/** What a reader calls each kind, in labels (the kinds themselves stay the model's names, in ids and `data-kind`). */
export const KIND_LABEL: Record<LineageKind, string> = {
  api: "api",
  topic: "topic",
  table: "table",
  view: "materialized view",
  plainView: "view",
  sqlResource: "SQL resource",
  workflow: "workflow",
};

export function lineage(map: InfraMap, flows: readonly StreamFlow[] = []): LineageGraph {
  const nodes: Array<LineageGraph["nodes"][number]> = [];
  const edges: Array<LineageGraph["edges"][number]> = [];
  for (const a of Object.values(map.apis)) nodes.push({ id: id("api", a.name), kind: "api", name: `${a.kind === "ingest" ? "POST" : "GET"} /${a.name}` });
  for (const t of Object.values(map.topics)) nodes.push({ id: id("topic", t.name), kind: "topic", name: t.name });
  for (const t of Object.values(map.tables)) nodes.push({ id: id("table", t.name), kind: "table", name: t.name });
  for (const v of Object.values(map.views)) nodes.push({ id: id("view", v.name), kind: "view", name: v.name });
  for (const v of Object.values(plainViewsOf(map))) nodes.push({ id: id("plainView", v.name), kind: "plainView", name: v.name });
  for (const r of Object.values(sqlResourcesOf(map))) nodes.push({ id: id("sqlResource", r.name), kind: "sqlResource", name: r.name });
  // What a view or resource names: a table, a plain view, a materialized view (its own rows) or a SQL resource.
  const has = (o: object | undefined, k: string) => o !== undefined && Object.prototype.hasOwnProperty.call(o, k);
  const nodeOf = (name: string): string =>
    has(map.tables, name)
      ? id("table", name)
      : has(map.plainViews, name)
        ? id("plainView", name)
        : has(map.sqlResources, name)
          ? id("sqlResource", name)
          : has(map.views, name)
            ? id("view", name)
            : id("table", name);
  for (const w of Object.values(map.workflows)) nodes.push({ id: id("workflow", w.name), kind: "workflow", name: w.name });
  for (const a of Object.values(map.apis)) {
    if (a.kind !== "ingest" || a.destination === undefined) continue;
    const to = map.topics[a.destination] ? id("topic", a.destination) : id("table", a.destination);
    edges.push({ from: id("api", a.name), to });
  }
  for (const p of Object.values(map.processes)) edges.push({ from: id("topic", p.sourceTopic), to: id("table", p.targetTable), label: "sync" });
  // Transforms are the app's code, not infrastructure: drawn when the code was read (ls, dev), between topics both known.
  for (const f of flows) if (map.topics[f.from] && map.topics[f.to]) edges.push({ from: id("topic", f.from), to: id("topic", f.to), label: "transform" });
  for (const v of Object.values(map.views)) {
    for (const s of v.sourceTables) edges.push({ from: nodeOf(s), to: id("view", v.name) });
    edges.push({ from: id("view", v.name), to: id("table", v.targetTable) });
  }
  for (const v of Object.values(plainViewsOf(map))) for (const s of v.sourceTables) edges.push({ from: nodeOf(s), to: id("plainView", v.name) });
  for (const r of Object.values(sqlResourcesOf(map))) {
    for (const s of r.pullsDataFrom) edges.push({ from: nodeOf(s), to: id("sqlResource", r.name) });
    for (const s of r.pushesDataTo) edges.push({ from: id("sqlResource", r.name), to: nodeOf(s) });
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
    plainView: (l) => `[["${l}"]]`,
    sqlResource: (l) => `[/"${l}"\\]`,
    workflow: (l) => `(["${l}"])`,
  };
  const lines = ["flowchart LR"];
  for (const n of g.nodes) lines.push(`  ${ids.get(n.id)}${shape[n.kind](label(`${n.name} (${KIND_LABEL[n.kind]})`))}`);
  for (const e of g.edges) {
    const from = ids.get(e.from);
    const to = ids.get(e.to);
    if (from && to) lines.push(`  ${from} -->${e.label ? `|${e.label}|` : ""} ${to}`);
  }
  return lines.join("\n") + "\n";
}

/** The same graph in Graphviz's DOT language. */
export function dot(g: LineageGraph): string {
  const shape: Record<LineageKind, string> = { api: "parallelogram", topic: "cds", table: "cylinder", view: "hexagon", plainView: "octagon", sqlResource: "note", workflow: "box" };
  const q = (s: string) => JSON.stringify(s);
  const lines = ["digraph lineage {", "  rankdir=LR;"];
  for (const n of g.nodes) lines.push(`  ${q(n.id)} [label=${q(`${n.name}\n(${KIND_LABEL[n.kind]})`)}, shape=${shape[n.kind]}];`);
  const known = new Set(g.nodes.map((n) => n.id));
  for (const e of g.edges) if (known.has(e.from) && known.has(e.to)) lines.push(`  ${q(e.from)} -> ${q(e.to)}${e.label ? ` [label=${q(e.label)}]` : ""};`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Where {@link layoutLineage} put a node: its column (rank) and box. */
export interface PlacedNode {
  readonly id: string;
  readonly kind: LineageKind;
  readonly name: string;
  readonly rank: number;
  readonly x: number;
  readonly y: number;
}

export interface LineageLayout {
  readonly nodes: readonly PlacedNode[];
  readonly edges: LineageGraph["edges"];
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 46;
const COLUMN_GAP = 80;
const ROW_GAP = 22;
const MARGIN = 16;

/**
 * A left-to-right layered layout: a node's column is the longest path to it from a node
 * without inputs (so ingest → topic → table → view → table read left to right), and the
 * nodes of a column are ordered by the mean row of their inputs (fewer crossings).
 * A cycle (the model has none, but a hand-edited state could) stops growing after as
 * many rounds as there are nodes.
 *
 * @example
 * layoutLineage(lineage(map)).nodes.map((n) => [n.id, n.rank]); // [["api:Foo", 0], ["topic:Foo", 1], …]
 */
export function layoutLineage(g: LineageGraph): LineageLayout {
  const rank = new Map(g.nodes.map((n) => [n.id, 0]));
  for (let round = 0; round < g.nodes.length; round++) {
    let moved = false;
    for (const e of g.edges) {
      const from = rank.get(e.from);
      const to = rank.get(e.to);
      if (from !== undefined && to !== undefined && to < from + 1) {
        rank.set(e.to, from + 1);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const columns: Array<Array<LineageGraph["nodes"][number]>> = [];
  for (const n of g.nodes) (columns[rank.get(n.id)!] ??= []).push(n);
  const row = new Map<string, number>();
  const inputs = (id: string) => g.edges.filter((e) => e.to === id).map((e) => row.get(e.from)).filter((r): r is number => r !== undefined);
  const placed: PlacedNode[] = [];
  columns.forEach((column, r) => {
    const order = column
      .map((n, i) => {
        const rows = inputs(n.id);
        return { n, key: rows.length > 0 ? rows.reduce((a, b) => a + b, 0) / rows.length : Number.MAX_SAFE_INTEGER, i };
      })
      .sort((a, b) => a.key - b.key || a.i - b.i);
    order.forEach(({ n }, i) => {
      row.set(n.id, i);
      placed.push({ ...n, rank: r, x: MARGIN + r * (NODE_WIDTH + COLUMN_GAP), y: MARGIN + i * (NODE_HEIGHT + ROW_GAP) });
    });
  });
  const tallest = Math.max(0, ...columns.map((c) => c?.length ?? 0));
  return {
    nodes: placed,
    edges: g.edges,
    width: MARGIN * 2 + Math.max(1, columns.length) * NODE_WIDTH + Math.max(0, columns.length - 1) * COLUMN_GAP,
    height: MARGIN * 2 + Math.max(1, tallest) * NODE_HEIGHT + Math.max(0, tallest - 1) * ROW_GAP,
  };
}

const KIND_COLOUR: Record<LineageKind, string> = {
  api: "#dbeafe",
  topic: "#fef3c7",
  table: "#dcfce7",
  view: "#f3e8ff",
  plainView: "#fae8ff",
  sqlResource: "#fee2e2",
  workflow: "#e5e7eb",
};

/** Text for XML: `&`, `<`, `>` and quotes escaped. */
export function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/**
 * The graph as a standalone SVG (no script, no external resource): a box per node coloured
 * by kind, its name and kind, curved arrows for edges (labelled `sync` for topic → table).
 * Every node is `<g class="node" data-id data-kind data-name>` and every edge
 * `<path class="edge" data-from data-to>`, so a page or a test can find them.
 */
export function lineageSvg(g: LineageGraph): string {
  const layout = layoutLineage(g);
  const at = new Map(layout.nodes.map((n) => [n.id, n]));
  const short = (s: string) => (s.length > 26 ? `${s.slice(0, 25)}…` : s);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="lineage of the declared infrastructure">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>`,
  ];
  for (const e of layout.edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_WIDTH;
    const y1 = a.y + NODE_HEIGHT / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_HEIGHT / 2;
    const bend = Math.max(30, (x2 - x1) / 2);
    out.push(
      `<path class="edge" data-from="${xmlText(e.from)}" data-to="${xmlText(e.to)}" d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}" fill="none" stroke="#475569" stroke-width="1.5" marker-end="url(#arrow)"/>`,
    );
    if (e.label) out.push(`<text class="edge-label" x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 5}" text-anchor="middle" font-size="11" fill="#334155">${xmlText(e.label)}</text>`);
  }
  for (const n of layout.nodes) {
    out.push(
      `<g class="node" data-id="${xmlText(n.id)}" data-kind="${n.kind}" data-name="${xmlText(n.name)}" transform="translate(${n.x},${n.y})">` +
        `<title>${xmlText(`${n.name} (${KIND_LABEL[n.kind]})`)}</title>` +
        `<rect width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="${n.kind === "topic" ? 23 : 6}" fill="${KIND_COLOUR[n.kind]}" stroke="#334155" stroke-width="1.2"/>` +
        `<text x="10" y="20" font-size="13" font-weight="600" fill="#0f172a">${xmlText(short(n.name))}</text>` +
        `<text x="10" y="37" font-size="11" fill="#475569">${KIND_LABEL[n.kind]}</text>` +
        `</g>`,
    );
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
