import { readFileSync } from "node:fs";

/** This package's version, read once from package.json (two folders above dist/cli). */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
