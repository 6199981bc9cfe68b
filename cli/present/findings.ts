import type { Finding } from "../../lib/migrations/review/check.js";
import { formatPosition } from "../../lib/errors.js";
import type { CliIO } from "../io.js";

/** Findings as errors are printed: `error[CODE]: file:line:col: step: message`, details and hint under it. */
export function writeFindings(io: CliIO, findings: readonly Finding[]): void {
  for (const f of findings) {
    const where = f.position ? `${formatPosition(f.position)}: ` : f.migration ? `${f.migration}: ` : "";
    const out = f.severity === "error" ? io.stderr : io.stdout;
    out.write(`${f.severity}[${f.code}]: ${where}${f.step ? `${f.step}: ` : ""}${f.message}\n`);
    for (const d of f.details ?? []) out.write(`  ${d}\n`);
    if (f.hint) out.write(`  hint: ${f.hint}\n`);
  }
}
