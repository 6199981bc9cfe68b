import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** Appends timestamped lines to the project log (`moose logs` reads it). */
export interface LogFile {
  readonly path: string;
  write(line: string): void;
}

export function openLogFile(path: string): LogFile {
  mkdirSync(dirname(path), { recursive: true });
  return {
    path,
    write(line: string) {
      const stamp = new Date().toISOString();
      appendFileSync(path, line.split("\n").map((l) => `${stamp} ${l}`).join("\n") + "\n");
    },
  };
}
