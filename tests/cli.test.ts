import test from "ava";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { moose, runCli, tempDir } from "./helpers/cli.js";

// Most tests run the commands in this process; two run the binary (start-up, exit codes,
// fast help, the code cache).

// `ls` opens the embedded engine: alone, before the others (chDB opens one data directory per process).
test.serial("init scaffolds the seed project offline, and plan shows the seed's plan", async (t) => {
  const root = tempDir("init");
  const init = await runCli(root, ["init", "demo"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "demo");
  for (const f of ["app/index.ts", "moose.config.toml", "migrations/.gitkeep", ".gitignore", "package.json", "tsconfig.json"]) {
    t.true(existsSync(join(dir, f)), f);
  }
  t.regex(readFileSync(join(dir, ".gitignore"), "utf8"), /^\.moose\/$/m);
  t.regex(readFileSync(join(dir, "app/index.ts"), "utf8"), /new OlapTable<UserSchema>\("Users"\)/);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  t.regex(pkg.dependencies["moose-migrate"] ?? "", /^file:/);
  t.true(readlinkSync(join(dir, "node_modules", "moose-migrate")).length > 0);

  const plan = await runCli(dir, ["plan"]);
  t.is(plan.code, 0, plan.stderr);
  t.is(plan.stdout, "Infrastructure Changes:\n New Components\n  + Users (OLAP Table)\n  + UserEvents (Streaming Topic)\n");

  const json = await runCli(dir, ["plan", "--json"]);
  t.is(json.code, 0);
  const doc = JSON.parse(json.stdout) as { ok: boolean; steps: Array<{ change: { kind: string }; risk: { class: string } }> };
  t.true(doc.ok);
  t.deepEqual(
    doc.steps.map((s) => [s.change.kind, s.risk.class]),
    [
      ["table.create", "additive"],
      ["topic.create", "additive"],
    ],
  );

  const ls = await runCli(dir, ["ls"]);
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /OLAP Tables \(1\)[\s\S]*Users\s+3\s+tuple\(\)\s+MergeTree/);
  t.regex(ls.stdout, /Streaming Topics \(1\)[\s\S]*UserEvents\s+1/);
  const lsJson = JSON.parse((await runCli(dir, ["ls", "--json", "--type", "topic"])).stdout) as { declared: Record<string, Array<{ name: string; declaredAt: { file: string; line: number } }>> };
  t.deepEqual(Object.keys(lsJson.declared), ["topics"]);
  t.is(lsJson.declared["topics"]?.[0]?.name, "UserEvents");
  t.deepEqual(lsJson.declared["topics"]?.[0]?.declaredAt, { file: "app/index.ts", line: 12, column: 27 });
});

test("init refuses to overwrite an existing project (exit 2)", async (t) => {
  const root = tempDir("init2");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const again = await runCli(root, ["init", "p"]);
  t.is(again.code, 2);
  t.regex(again.stderr, /error\[PROJECT_EXISTS\]: .*moose\.config\.toml already exists/);
});

test("commands outside a project say how to start one (exit 2)", async (t) => {
  const r = await runCli(tempDir("none"), ["plan"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error\[CONFIG_NOT_FOUND\]: no moose\.config\.toml in .*: run `moose init`/);
});

test("a bad config names the key and its line (exit 2)", async (t) => {
  const root = tempDir("badcfg");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const dir = join(root, "p");
  writeFileSync(join(dir, "moose.config.toml"), '[http_server_config]\nport = 70000\n');
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error\[CONFIG_INVALID\]: .*moose\.config\.toml:2:1: http_server_config\.port must be an integer port 1–65535/);
});

test("app errors print file:line:column and exit 2; --json prints them as data", async (t) => {
  const root = tempDir("badapp");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const dir = join(root, "p");
  writeFileSync(
    join(dir, "app/index.ts"),
    'import { OlapTable } from "moose-migrate";\ninterface Row {\n  id: string;\n  blob: any;\n}\nexport const t = new OlapTable<Row>("Rows");\n',
  );
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error\[UNSUPPORTED_TYPE\]: app\/index\.ts:4:3: Row\.blob: `any` cannot be stored in a ClickHouse column\n  hint: /);
  const j = await runCli(dir, ["plan", "--json"]);
  t.is(j.code, 2);
  const doc = JSON.parse(j.stdout) as { ok: boolean; errors: Array<{ code: string; position: unknown }> };
  t.false(doc.ok);
  t.deepEqual(doc.errors[0]?.position, { file: "app/index.ts", line: 4, column: 3 });
});

test("usage errors exit 2; --version and --help exit 0; unfinished commands say so", (t) => {
  const dir = tempDir("usage");
  const bad = moose(dir, ["plna"]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error\[USAGE\]/);
  t.regex(bad.stderr, /error\[USAGE\]: Unknown argument: plna; did you mean plan\?\n  hint: moose --help/);
  const typo = moose(dir, ["migrate", "deploy", "--dryrun"]);
  t.is(typo.code, 2);
  t.is(typo.stderr, "error[USAGE]: Unknown argument: dryrun; did you mean --dry-run?\n  hint: moose --help lists the commands; moose <command> --help its options\n");
  const noCmd = moose(dir, []);
  t.is(noCmd.code, 2);
  const v = moose(dir, ["--version"]);
  t.is(v.code, 0);
  t.regex(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = moose(dir, ["--help"]);
  t.is(h.code, 0);
  for (const cmd of ["init", "plan", "ls", "migrate", "query", "dev", "logs", "prod", "generate"]) t.regex(h.stdout, new RegExp(`moose ${cmd}`));
  // Every command is implemented now; outside a project they say how to start one.
  const prod = moose(dir, ["prod"]);
  t.is(prod.code, 2);
  t.regex(prod.stderr, /error\[CONFIG_NOT_FOUND\]: .*run `moose init`/);
});

test("TypeScript is loaded from a V8 code cache: written by the first command, rewritten when V8 rejects it or when it was written by a command that read no app, off with MOOSE_NO_COMPILE_CACHE", (t) => {
  const root = tempDir("code-cache");
  t.is(moose(root, ["init", "demo"]).code, 0);
  const dir = join(root, "demo");
  const cacheHome = tempDir("code-cache-home");
  const env = { XDG_CACHE_HOME: cacheHome };
  const cacheFiles = () => (existsSync(join(cacheHome, "moose-migrate")) ? readdirSync(join(cacheHome, "moose-migrate")) : []);

  const off = moose(dir, ["plan"], { ...env, MOOSE_NO_COMPILE_CACHE: "1" });
  t.is(off.code, 0, off.stderr);
  t.deepEqual(cacheFiles(), []);

  const first = moose(dir, ["plan"], env);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, off.stdout);
  const [file] = cacheFiles();
  t.regex(file ?? "", /^typescript-.*\.v8cache$/);
  const path = join(cacheHome, "moose-migrate", file!);
  const written = statSync(path).size;
  t.true(written > 100_000, `cache of ${written} bytes`);
  // The first byte says whether the command that wrote it read an app with TypeScript: this one did not (the
  // plan before it wrote the extraction cache, so every file came from there).
  t.is(readFileSync(path)[0], 0);

  // A damaged cache is rejected by V8, the command still works, and the cache is written again.
  writeFileSync(path, "not a code cache");
  const damaged = moose(dir, ["plan"], env);
  t.is(damaged.code, 0, damaged.stderr);
  t.is(damaged.stdout, off.stdout);
  t.true(statSync(path).size > 100_000);
  t.deepEqual(cacheFiles(), [file]);
  // A cache written by commands that read no app lacks the parser's and checker's functions: the next
  // command that reads a file writes it again, with them, and later ones keep it.
  t.is(readFileSync(path)[0], 0);
  const loadOnly = statSync(path).size;
  const main = join(dir, "app", "index.ts");
  writeFileSync(main, `${readFileSync(main, "utf8")}\n// edited\n`);
  const reading = moose(dir, ["plan"], env);
  t.is(reading.code, 0, reading.stderr);
  t.is(readFileSync(path)[0], 1);
  t.true(statSync(path).size > loadOnly, `${statSync(path).size} bytes after reading a file, ${loadOnly} before`);
  const kept = statSync(path).mtimeMs;
  writeFileSync(main, `${readFileSync(main, "utf8")}// again\n`);
  t.is(moose(dir, ["plan"], env).code, 0);
  t.is(statSync(path).mtimeMs, kept, "a cache written by a command that read an app is not written again");
});
