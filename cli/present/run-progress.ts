import type { RunEvent } from "../../lib/migrations/apply/runner.js";
import type { CliIO } from "../io.js";
import { coloursFor } from "./colour.js";

/** A step is shown as working once it has run this long (on a terminal only). */
const SHOW_AFTER_MS = 1000;
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * Prints a deploy's or rollback's events: each step by number and name with its time
 * (`✓ 2/3 addColumn("Users", …)  14 ms`). On a terminal, a step still running after a
 * second gets a spinner line with its elapsed time, rewritten in place and cleared when it
 * ends; elsewhere (CI logs, pipes) nothing but the finished lines.
 *
 * `labels(id, index)` names a step (the caller reads them from the migration files).
 */
export function runProgress(io: CliIO, labels: (id: string, index: number) => string): { onEvent: (e: RunEvent) => void; stop: () => void } {
  const c = coloursFor(io);
  let timer: NodeJS.Timeout | undefined;
  let spinning = false;
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (spinning) io.stdout.write("\r\u001b[K");
    spinning = false;
  };
  const step = (e: { id: string; index: number }, total: number) => `${e.index + 1}/${total} ${labels(e.id, e.index)}`;
  let total = 0;
  /** The running step's rows read / estimated total, when the engine reports them (a server). */
  let rows: { rows: number; total: number; unit: "rows" | "parts" } | undefined;
  const onEvent = (e: RunEvent): void => {
    switch (e.kind) {
      case "start":
        total = e.steps;
        io.stdout.write(`${e.direction === "deploy" ? "Applying" : "Rolling back"} ${c.bold(e.id)}${e.resumeFrom === 0 ? "" : e.direction === "deploy" ? ` (resuming at step ${e.resumeFrom + 1} of ${e.steps})` : ` (resuming after ${e.resumeFrom} of ${e.steps} steps)`}\n`);
        return;
      case "step-start": {
        stop();
        if (!io.isTTY) return;
        const started = Date.now();
        let frame = 0;
        rows = undefined;
        timer = setInterval(() => {
          const ms = Date.now() - started;
          if (ms < SHOW_AFTER_MS) return;
          spinning = true;
          io.stdout.write(`\r\u001b[K  ${c.yellow(FRAMES[frame++ % FRAMES.length]!)} ${step(e, e.steps)} ${c.dim(`${(ms / 1000).toFixed(1)} s`)}${rows ? ` ${rowsText(rows)}` : ""}`);
        }, 100);
        timer.unref?.();
        return;
      }
      case "step-progress":
        rows = { rows: e.rows, total: e.total, unit: e.unit };
        return;
      case "step-done":
        stop();
        io.stdout.write(`  ${c.green("✓")} ${step(e, total)}  ${c.dim(`${e.ms.toFixed(0)} ms`)}\n`);
        return;
      case "step-skipped":
        io.stdout.write(`  ${c.dim(`· ${step(e, total)} already ${e.direction === "deploy" ? "applied" : "undone"}`)}\n`);
        return;
      case "done":
        stop();
        io.stdout.write(`  ${e.direction === "deploy" ? "applied" : "rolled back"} in ${e.ms.toFixed(0)} ms\n`);
        return;
    }
  };
  return { onEvent, stop };
}

/**
 * `1,234,567 / 5,000,000 rows (24%)`; the total is the server's estimate, so the share never shows above 99% before
 * the end. A mutation (a backfill) counts parts instead: `3 / 8 parts (37%)`.
 */
export function rowsText(p: { rows: number; total: number; unit?: "rows" | "parts" }): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const unit = p.unit ?? "rows";
  if (p.total <= 0) return `${n(p.rows)} ${unit}`;
  return `${n(p.rows)} / ${n(Math.max(p.total, p.rows))} ${unit} (${Math.min(99, Math.floor((100 * p.rows) / Math.max(p.total, p.rows)))}%)`;
}
