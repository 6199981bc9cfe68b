import test from "ava";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractApp } from "../lib/extract/extract-app.js";
import { InvalidInputErrors } from "../lib/errors.js";

function app(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "moose-apis-"));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "app/index.ts"), source);
  return dir;
}

test("an API without parameters is fine; a table with no columns is still an error", (t) => {
  const ok = extractApp({ projectDir: app('import { Api } from "moose-migrate";\nexport const ping = new Api<{}, { ok: boolean }>("ping", async () => ({ ok: true }));\n'), mainFile: "app/index.ts" });
  t.deepEqual(ok.map.apis["api/ping"]?.columns, []);
  const dir = app('import { Api, OlapTable } from "moose-migrate";\ntype Empty = {};\nexport const ping = new Api<Empty, unknown>("ping", async () => 1);\nexport const t = new OlapTable<Empty>("Nothing");\n');
  const e = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }), { instanceOf: InvalidInputErrors });
  t.deepEqual(e?.errors.map((x) => [x.code, x.position?.line]), [["EMPTY_SCHEMA", 4]]);
});
