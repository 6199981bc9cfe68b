import type { IncomingMessage, ServerResponse } from "node:http";
import { isLoopback } from "../config/config.js";
import type { Ledger } from "../ledger/ledger.js";
import type { InfraMap } from "../model/infra-map.js";
import type { StreamFlow } from "../extract/extract-app.js";
import { stepLabel } from "../migrations/files/steps.js";
import type { MigrationFile } from "../migrations/files/read.js";
import { lineage, lineageSvg, xmlText } from "../project/lineage.js";

/** The page `moose dev` serves: `GET /_moose`. */
export const DEV_PAGE_PATH = "/_moose";

/** One step of a migration as the page shows it. */
export interface HistoryStep {
  readonly index: number;
  /** `addColumn("Users", …)` from the file, when the file is there. */
  readonly call: string | undefined;
  readonly status: string;
  readonly ms: number | undefined;
  readonly statements: readonly string[];
  readonly error: string | null;
}

/** One migration (applied, failed, running, rolled back, pending, or the dev draft). */
export interface HistoryEntry {
  readonly id: string;
  readonly status: string;
  readonly startedAt: string | undefined;
  readonly ms: number | undefined;
  readonly stepsApplied: number;
  readonly stepsTotal: number;
  readonly error: string | null;
  readonly steps: readonly HistoryStep[];
}

/**
 * The migration history for the page: every ledger record (newest first) with its steps,
 * statements and timings, then the committed files the ledger has not recorded (`pending`).
 */
export async function migrationHistory(ledger: Ledger, files: readonly MigrationFile[]): Promise<HistoryEntry[]> {
  const labels = new Map(files.map((f) => [f.id, f.up.map((l) => stepLabel(l.step))]));
  const downLabels = new Map(files.map((f) => [`${f.id}.rollback`, (f.down ?? []).map((l) => stepLabel(l.step))]));
  const records = await ledger.list();
  const recorded = new Set(records.map((r) => r.id));
  const entries: HistoryEntry[] = [];
  for (const r of [...records].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id))) {
    const steps = await ledger.steps(r.id);
    const names = labels.get(r.id) ?? downLabels.get(r.id);
    entries.push({
      id: r.id,
      status: r.status,
      startedAt: r.startedAt,
      ms: r.durationMs ?? undefined,
      stepsApplied: r.stepsApplied,
      stepsTotal: r.stepsTotal,
      error: r.error,
      steps: steps.map((s) => ({
        index: s.index,
        call: names?.[s.index],
        status: s.status,
        ms: s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : undefined,
        statements: s.statements,
        error: s.error,
      })),
    });
  }
  for (const f of files) {
    if (recorded.has(f.id)) continue;
    entries.push({
      id: f.id,
      status: "pending",
      startedAt: undefined,
      ms: undefined,
      stepsApplied: 0,
      stepsTotal: f.up.length,
      error: null,
      steps: f.up.map((l, index) => ({ index, call: stepLabel(l.step), status: "pending", ms: undefined, statements: [], error: null })),
    });
  }
  return entries;
}

export interface DevPage {
  readonly title: string;
  readonly state: InfraMap;
  /** The app's transforms (topic → topic), as last read from its code. */
  readonly flows?: readonly StreamFlow[];
  readonly history: readonly HistoryEntry[];
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #0f172a; background: #f8fafc; }
header { padding: 14px 24px; background: #0f172a; color: #f8fafc; }
header h1 { font-size: 18px; margin: 0; }
header p { margin: 2px 0 0; color: #cbd5e1; }
section { padding: 8px 24px 16px; }
h2 { font-size: 16px; margin: 14px 0 8px; }
.graph { overflow: auto; background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px; }
table.history { border-collapse: collapse; width: 100%; background: #fff; }
table.history th, table.history td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
.status { font-weight: 600; }
.status-applied { color: #15803d; } .status-failed, .status-partially_applied { color: #b91c1c; }
.status-pending { color: #a16207; } .status-running { color: #1d4ed8; }
pre { margin: 4px 0; padding: 6px 8px; background: #f1f5f9; border-radius: 4px; white-space: pre-wrap; font-size: 12px; }
ol.steps { margin: 4px 0; padding-left: 20px; }
.empty { color: #64748b; }
`;

/**
 * Checks that the graph was laid out as drawn: every node box inside the drawing and no two
 * overlapping. The result is written on the svg (`data-layout`), where a browser test reads it.
 */
const LAYOUT_CHECK = `
(() => {
  const svg = document.querySelector("svg.lineage");
  if (!svg) return;
  const frame = svg.getBoundingClientRect();
  const boxes = [...svg.querySelectorAll("g.node")].map((g) => g.getBoundingClientRect());
  const inside = boxes.every((b) => b.left >= frame.left - 1 && b.right <= frame.right + 1 && b.top >= frame.top - 1 && b.bottom <= frame.bottom + 1);
  const overlap = boxes.some((a, i) => boxes.some((b, j) => j > i && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
  svg.dataset.layout = boxes.length + " nodes; " + (inside ? "inside" : "outside") + "; " + (overlap ? "overlapping" : "no overlap");
})();
`;

const ms = (n: number | undefined) => (n === undefined ? "" : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`);

/** The page as HTML: the lineage graph (inline SVG) and the migration history with each step's SQL and time. */
export function renderDevPage(page: DevPage): string {
  const graph = lineage(page.state, page.flows);
  const rows = page.history.map((h) => {
    const steps = h.steps
      .map(
        (s) =>
          `<li class="step" data-status="${xmlText(s.status)}"><code>${xmlText(s.call ?? `step ${s.index + 1}`)}</code> · ${xmlText(s.status)}${s.ms === undefined ? "" : ` · ${ms(s.ms)}`}` +
          (s.statements.length > 0 ? `<pre class="sql">${xmlText(s.statements.join(";\n\n"))}</pre>` : "") +
          (s.error ? `<pre class="error">${xmlText(s.error)}</pre>` : "") +
          `</li>`,
      )
      .join("");
    const detail =
      h.steps.length === 0
        ? `<span class="empty">no steps</span>`
        : `<details${h.status === "failed" || h.status === "partially_applied" ? " open" : ""}><summary>${h.steps.length} step${h.steps.length === 1 ? "" : "s"}${h.status === "pending" ? ` (SQL: <code>moose migrate sql ${xmlText(h.id)}</code>)` : ", SQL"}</summary><ol class="steps">${steps}</ol></details>`;
    return (
      `<tr class="migration" data-id="${xmlText(h.id)}" data-status="${xmlText(h.status)}">` +
      `<td><code>${xmlText(h.id)}</code></td>` +
      `<td class="status status-${xmlText(h.status)}">${xmlText(h.status)}</td>` +
      `<td>${h.stepsApplied}/${h.stepsTotal}</td>` +
      `<td>${xmlText(h.startedAt ?? "")}</td>` +
      `<td>${ms(h.ms)}</td>` +
      `<td>${detail}${h.error ? `<pre class="error">${xmlText(h.error)}</pre>` : ""}</td>` +
      `</tr>`
    );
  });
  return [
    `<!doctype html>`,
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${xmlText(page.title)}</title><style>${STYLE}</style></head><body>`,
    `<header><h1>${xmlText(page.title)}</h1><p>${graph.nodes.length} objects declared · ${page.history.length} migrations</p></header>`,
    `<section id="lineage"><h2>Lineage</h2>`,
    graph.nodes.length === 0 ? `<p class="empty">Nothing is declared yet.</p>` : `<div class="graph">${lineageSvg(graph)}</div>`,
    `</section>`,
    `<section id="migrations"><h2>Migration history</h2>`,
    page.history.length === 0
      ? `<p class="empty">No migrations yet.</p>`
      : `<table class="history"><thead><tr><th>migration</th><th>status</th><th>steps</th><th>started</th><th>took</th><th>steps and SQL</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
    `</section>`,
    `<script>${LAYOUT_CHECK}</script>`,
    `</body></html>`,
  ].join("\n");
}

export interface DevPageOptions {
  readonly title: string;
  readonly state: () => InfraMap;
  /** The transforms of the app's code as last read (see ExtractedApp.flows). */
  readonly flows?: () => readonly StreamFlow[];
  readonly ledger: Ledger;
  readonly migrations: () => readonly MigrationFile[];
}

/**
 * `GET /_moose`: the page, for a browser on this machine. It shows SQL and the project's
 * history, so it answers only loopback clients addressed by a loopback name (a rebound
 * DNS name or a LAN address, when `http_server_config.host` listens wider, is refused).
 */
export function createDevPageRoutes(options: DevPageOptions) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (url.pathname !== DEV_PAGE_PATH && url.pathname !== `${DEV_PAGE_PATH}/`) return false;
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    const peer = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    if (!isLoopback(host) || !isLoopback(peer)) {
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8" });
      res.end("the moose dev page answers only on this machine, at a loopback address (localhost, 127.0.0.1, ::1)\n");
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("GET only\n");
      return true;
    }
    const html = renderDevPage({ title: options.title, state: options.state(), flows: options.flows?.() ?? [], history: await migrationHistory(options.ledger, options.migrations()) });
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // Inline style and the layout check only; nothing is loaded from anywhere.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
      "x-content-type-options": "nosniff",
    });
    res.end(req.method === "HEAD" ? undefined : html);
    return true;
  };
}
