import type { CliIO } from "../io.js";

/**
 * Colours for the terminal, as plain ANSI SGR codes (no library: the few we use fit in this
 * file). On only when stdout is a terminal, `NO_COLOR` is unset or empty
 * (https://no-color.org) and `TERM` is not `dumb`; `FORCE_COLOR=1` turns them on elsewhere.
 */
export interface Colours {
  readonly enabled: boolean;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function coloursFor(io: Pick<CliIO, "isTTY" | "env">): Colours {
  const force = io.env["FORCE_COLOR"];
  const enabled = force !== undefined && force !== "" ? force !== "0" && force !== "false" : io.isTTY && !io.env["NO_COLOR"] && io.env["TERM"] !== "dumb";
  const sgr = (open: number, close: number) => (text: string) => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { enabled, green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}
