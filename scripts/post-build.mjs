// Makes the built CLI executable (tsc does not keep modes).
import { chmodSync, existsSync } from "node:fs";
const bin = new URL("../dist/cli/bin.js", import.meta.url);
if (existsSync(bin)) chmodSync(bin, 0o755);
