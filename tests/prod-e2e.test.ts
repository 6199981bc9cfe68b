import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { generateToken, legacyKeyFor } from "../lib/auth/token.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { mooseAsync, startProd, type ProdInstance } from "./helpers/prod-instance.js";

/**
 * The production flow of the seed page, end to end, on embedded ClickHouse:
 * init → generate → deploy (in this process) → `moose prod` (the binary, a child
 * process on loopback) → admin API → `moose plan --url` before and after a code change →
 * prod refusing to start while that change is pending → deploy → plan again.
 *
 * The steps share one project (chDB admits one process per data folder, so
 * instances run one after another) and run in order.
 */

const APP = `import { Api, IngestApi, OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
export const usersIngest = new IngestApi<UserSchema>("Users", { destination: usersTable });

interface CountParams {
  name?: string;
}
export const userCount = new Api<CountParams, { users: number }>("userCount", async (params, { query }) => {
  const rows = await query<{ n: string }>("SELECT count() AS n FROM Users WHERE {name:String} = '' OR name = {name:String}", { name: params.name ?? "" });
  return { users: Number(rows[0]?.n ?? 0) };
});
`;

const LEGACY_TOKEN = "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTP request; `from` picks the local address, so the rate limit sees another client. */
function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown; from?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        headers: { ...(payload ? { "content-type": "application/json" } : {}), ...options.headers },
        ...(options.from ? { localAddress: options.from } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let dir = "";
let token = "";
let apiKeyHash = "";
let prod: ProdInstance | undefined;
let firstMigration = "";

test.before(async () => {
  ({ bearerToken: token, apiKeyHash } = await generateToken());
  const root = tempDir("prod");
  const init = await runCli(root, ["init", "p"]);
  if (init.code !== 0) throw new Error(init.stderr);
  dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  for (const args of [
    ["migrate", "generate", "--name", "create users"],
    ["migrate", "deploy"],
  ]) {
    const r = await runCli(dir, args);
    if (r.code !== 0) throw new Error(`moose ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  }
  firstMigration = readdirSync(join(dir, "migrations")).find((f) => f.endsWith(".ts"))!.replace(/\.ts$/, "");
});

test.after.always(async () => {
  await prod?.stop();
});

test.serial("moose prod starts on the deployed project and says where it listens", async (t) => {
  prod = await startProd(dir, { MOOSE_AUTHENTICATION__ADMIN_API_KEY: apiKeyHash });
  t.regex(prod.output(), /moose prod \S+: 1 migration\(s\) applied \(state [0-9a-f]{12}\)/);
  t.regex(prod.output(), /endpoints: \/api\/userCount, \/ingest\/Users; \/admin\/inframap, \/admin\/migrations \(bearer token\); \/health/);
  t.regex(prod.output(), new RegExp(`Listening on ${prod.url.replace(/\./g, "\\.")} \\(Ctrl-C to stop\\)`));
});

test.serial("GET /health needs no token; every answer says it is moose", async (t) => {
  const r = await call(`${prod!.url}/health`);
  t.is(r.status, 200);
  t.deepEqual(r.json(), { status: "ok" });
  t.regex(String(r.headers["x-moose-migrate"]), /^\d+\.\d+\.\d+/);
});

test.serial("the deployed API endpoints are served with the app's handlers", async (t) => {
  const ingest = await call(`${prod!.url}/ingest/Users`, { method: "POST", body: [{ id: "u1", name: "Ada", email: "ada@example.com" }] });
  t.is(ingest.status, 200, ingest.body);
  const count = await call(`${prod!.url}/api/userCount?name=Ada`);
  t.is(count.status, 200, count.body);
  t.deepEqual(count.json(), { users: 1 });
});

test.serial("admin routes without, with a malformed and with a wrong token: 401, logged without the token", async (t) => {
  const url = `${prod!.url}/admin/inframap`;
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{}, "missing", /^missing bearer token/],
    [{ authorization: `Token ${token}` }, "malformed", /^malformed Authorization header/],
    [{ authorization: "Bearer" }, "malformed", /^malformed Authorization header/],
    [bearer(token.slice(0, -2) + "xx"), "wrong", /^invalid bearer token$/],
    [bearer(LEGACY_TOKEN), "wrong", /^invalid bearer token$/],
  ];
  for (const [headers, reason, message] of cases) {
    const r = await call(url, { headers });
    t.is(r.status, 401, reason);
    t.regex(String(r.headers["www-authenticate"]), /^Bearer realm="moose-admin"/);
    t.regex(r.json<{ error: string }>().error, message);
    await prod!.waitFor(new RegExp(`admin auth failed: client=127\\.0\\.0\\.1 route="GET /admin/inframap" reason=${reason}`));
  }
  const migrations = await call(`${prod!.url}/admin/migrations`, { headers: bearer("nope") });
  t.is(migrations.status, 401);
  await prod!.waitFor(/route="GET \/admin\/migrations" reason=wrong/);
  t.false(prod!.output().includes(token.slice(0, -2)), "the log never holds a token");
  const logFile = readFileSync(join(dir, ".moose", "moose.log"), "utf8");
  t.regex(logFile, /^\S+Z admin auth failed: client=127\.0\.0\.1 route="GET \/admin\/inframap" reason=missing$/m, "moose logs finds them too");
  t.false(logFile.includes(token.slice(0, -2)));
});

test.serial("the right token (our format): /admin/inframap is the deployed state, /admin/migrations the ledger", async (t) => {
  const r = await call(`${prod!.url}/admin/inframap`, { headers: bearer(token) });
  t.is(r.status, 200, r.body);
  const state = r.json<{
    version: string;
    hash: string;
    inframap: { tables: Record<string, { columns: Array<{ name: string }> }>; apis: Record<string, unknown> };
    migrations: { applied: string[]; pending: string[]; issues: unknown[] };
    drift: string[];
    driftChecked: boolean;
  }>();
  t.regex(state.version, /^\d+\.\d+\.\d+/);
  t.regex(state.hash, /^sha256:[0-9a-f]{64}$/);
  t.deepEqual(Object.keys(state.inframap.tables), ["Users"]);
  t.deepEqual(state.inframap.tables["Users"]?.columns.map((c) => c.name), ["id", "name", "email"]);
  t.deepEqual(Object.keys(state.inframap.apis).sort(), ["api/userCount", "ingest/Users"]);
  t.deepEqual(state.migrations, { applied: [firstMigration], pending: [], issues: [] });
  t.deepEqual(state.drift, []);
  t.true(state.driftChecked);

  const m = await call(`${prod!.url}/admin/migrations`, { headers: bearer(token) });
  t.is(m.status, 200);
  const ledger = m.json<{ migrations: Array<{ id: string; status: string; stepsApplied: number }> }>();
  t.deepEqual(
    ledger.migrations.map((x) => [x.id, x.status]),
    [[firstMigration, "applied"]],
  );
  const again = await call(`${prod!.url}/admin/migrations`, { headers: bearer(token) });
  t.is(again.status, 200, "a verified token keeps working (from the cache)");
  const unknown = await call(`${prod!.url}/admin/nothing`, { headers: bearer(token) });
  t.is(unknown.status, 404);
  const post = await call(`${prod!.url}/admin/inframap`, { method: "POST", headers: bearer(token) });
  t.is(post.status, 405);
});

test.serial("failures are rate-limited per client: the 11th in a minute is 429 with Retry-After, other clients unaffected", async (t) => {
  const url = `${prod!.url}/admin/inframap`;
  for (let i = 0; i < 10; i++) {
    t.is((await call(url, { from: "127.0.0.2" })).status, 401);
  }
  const limited = await call(url, { from: "127.0.0.2", headers: bearer(token) });
  t.is(limited.status, 429);
  const retry = Number(limited.headers["retry-after"]);
  t.true(retry > 0 && retry <= 60, String(retry));
  t.regex(limited.json<{ error: string }>().error, /too many failed admin authentications/);
  await prod!.waitFor(/admin auth failed: client=127\.0\.0\.2 route="GET \/admin\/inframap" reason=rate-limited/);
  for (let i = 0; i < 5; i++) t.is((await call(url, { from: "127.0.0.2" })).status, 429);
  t.is(prod!.output().match(/client=127\.0\.0\.2 .*reason=rate-limited/g)?.length, 1, "a flood of refused requests is logged once, not per request");
  t.is((await call(url, { headers: bearer(token) })).status, 200, "127.0.0.1 is another client");
  t.is((await call(`${prod!.url}/health`, { from: "127.0.0.2" })).status, 200, "health stays open");
});

test.serial("moose plan --url: no changes while the code is what is deployed", async (t) => {
  const r = await runCli(dir, ["plan", "--url", prod!.url, "--token", token]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, "No changes: the infrastructure matches the code.\n");
});

test.serial("moose plan --url: a code change shows up as the seed's plan, the same as the local plan; token from MOOSE_ADMIN_TOKEN", async (t) => {
  const path = join(dir, "app/index.ts");
  writeFileSync(
    path,
    readFileSync(path, "utf8")
      .replace("  email: string;\n}", "  email: string;\n  age?: number;\n}")
      .concat('\ninterface AnalyticsSchema {\n  id: string;\n  views: number;\n}\nexport const analytics = new OlapTable<AnalyticsSchema>("Analytics");\n'),
  );
  const remote = await runCli(dir, ["plan", "--url", prod!.url], { MOOSE_ADMIN_TOKEN: token });
  t.is(remote.code, 0, remote.stderr);
  t.is(
    remote.stdout,
    "Infrastructure Changes:\n New Components\n  + Analytics (OLAP Table)\n🔄 Modified Components\n  ~ Users (Schema Update)\n      + age Nullable(Float64)\n  ~ ingest/Users (Schema Update)\n      + age Nullable(Float64)\n",
  );
  const local = await runCli(dir, ["plan"]);
  t.is(local.stdout, remote.stdout, "one planner: the remote preview equals the local plan");

  const json = await runCli(dir, ["plan", "--url", prod!.url, "--json"], { MOOSE_ADMIN_TOKEN: token });
  t.is(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { source: { kind: string }; steps: Array<{ change: { kind: string } }>; remote: { migrations: { applied: string[] } } };
  t.is(doc.source.kind, "remote");
  t.deepEqual(
    doc.steps.map((s) => s.change.kind),
    ["table.create", "table.addColumn", "api.modify"],
  );
  t.deepEqual(doc.remote.migrations.applied, [firstMigration]);
});

test.serial("moose plan --url against the real instance: a wrong token is exit 2 naming its source; no token says how to pass one", async (t) => {
  const wrong = await runCli(dir, ["plan", "--url", prod!.url], { MOOSE_ADMIN_TOKEN: "moose_wrong" });
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /error\[REMOTE_UNAUTHORIZED\]: http:\/\/127\.0\.0\.1:\d+\/admin\/inframap refused the token from the MOOSE_ADMIN_TOKEN environment variable \(HTTP 401\): invalid bearer token/);
  const none = await runCli(dir, ["plan", "--url", prod!.url]);
  t.is(none.code, 2);
  t.regex(none.stderr, /no token was sent\n  hint: pass the admin bearer token with --token <token> or the MOOSE_ADMIN_TOKEN environment variable/);
});

test.serial("SIGTERM closes moose prod gracefully (exit 0)", async (t) => {
  t.is(await prod!.stop(), 0);
  t.regex(prod!.output(), /SIGTERM: closing…\nStopped\.\n/);
  prod = undefined;
});

test.serial("moose prod refuses to start while the engines are behind the committed migrations, naming them (exit 4)", async (t) => {
  const gen = await runCli(dir, ["migrate", "generate", "--name", "add analytics and age"]);
  t.is(gen.code, 0, gen.stderr);
  const second = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort()[1]!.replace(/\.ts$/, "");
  const r = await mooseAsync(dir, ["prod", "--port", "0"], { MOOSE_AUTHENTICATION__ADMIN_API_KEY: apiKeyHash });
  t.is(r.code, 4, r.stdout + r.stderr);
  t.regex(r.stderr, new RegExp(`error\\[MIGRATIONS_PENDING\\]: refusing to start: the engines are behind the committed migrations; 1 pending: ${second}\\n  hint: run \`moose migrate deploy\` first`));
  t.notRegex(r.stdout, /Listening/);
});

test.serial("after deploy, an instance with a key from the original Moose CLI serves the new state; plan --url has no changes", async (t) => {
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stderr);
  prod = await startProd(dir, { MOOSE_AUTHENTICATION__ADMIN_API_KEY: legacyKeyFor(LEGACY_TOKEN) });
  t.regex(prod.output(), /2 migration\(s\) applied/);
  const state = await call(`${prod.url}/admin/inframap`, { headers: bearer(LEGACY_TOKEN) });
  t.is(state.status, 200, state.body);
  t.deepEqual(Object.keys(state.json<{ inframap: { tables: object } }>().inframap.tables).sort(), ["Analytics", "Users"]);
  t.is((await call(`${prod.url}/admin/inframap`, { headers: bearer(token) })).status, 401, "our-format token does not match a legacy key");
  const plan = await runCli(dir, ["plan", "--url", prod.url, "--token", LEGACY_TOKEN]);
  t.is(plan.code, 0, plan.stderr);
  t.is(plan.stdout, "No changes: the infrastructure matches the code.\n");
  t.is(await prod.stop(), 0);
  prod = undefined;
});

test.serial("with no admin key the admin API answers 401 saying it is disabled; moose plan --url says how to enable it", async (t) => {
  prod = await startProd(dir, { MOOSE_AUTHENTICATION__ADMIN_API_KEY: undefined });
  t.regex(prod.output(), /warning: admin API disabled: set \[authentication\] admin_api_key \(moose generate hash-token\)/);
  const r = await call(`${prod.url}/admin/inframap`, { headers: bearer(token) });
  t.is(r.status, 401);
  t.deepEqual(r.json(), { error: "admin API disabled: set [authentication] admin_api_key (moose generate hash-token)" });
  const plan = await runCli(dir, ["plan", "--url", prod.url, "--token", token]);
  t.is(plan.code, 2);
  t.regex(plan.stderr, /error\[REMOTE_UNAUTHORIZED\]: .*refused the request \(HTTP 401\): admin API disabled[\s\S]*hint: on the instance, set \[authentication\] admin_api_key/);
  t.is(await prod.stop(), 0);
  prod = undefined;
});

test.serial("a malformed admin key stops moose prod before it listens (exit 2)", async (t) => {
  const r = await mooseAsync(dir, ["prod", "--port", "0"], { MOOSE_AUTHENTICATION__ADMIN_API_KEY: "your-hashed-token" });
  t.is(r.code, 2, r.stdout + r.stderr);
  t.regex(r.stderr, /^error\[AUTH_KEY_MALFORMED\]: authentication\.admin_api_key is not a valid admin API key hash: it is neither .*\n  hint: generate one with `moose generate hash-token`/);
  t.notRegex(r.stdout, /Listening/);
});

test.serial("an applied migration edited afterwards stops moose prod (exit 3)", async (t) => {
  const path = join(dir, "migrations", `${firstMigration}.ts`);
  const original = readFileSync(path, "utf8");
  writeFileSync(path, original + "// edited after deploy\n");
  try {
    const r = await mooseAsync(dir, ["prod", "--port", "0"]);
    t.is(r.code, 3, r.stdout + r.stderr);
    t.regex(r.stderr, new RegExp(`error\\[PROD_HISTORY_REFUSED\\]: refusing to start: the committed migrations disagree with what this environment applied \\(${firstMigration}\\)\\n  ${firstMigration}: edited`));
  } finally {
    writeFileSync(path, original);
  }
});
