import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { layoutLineage, lineage, NODE_HEIGHT, NODE_WIDTH } from "../lib/project/lineage.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";
import { startTemporalTestServer, type TemporalTestServer } from "./helpers/temporal-test-server.js";

/**
 * The page `moose dev` serves at /_moose: the lineage graph of the `typescript` template (drawn as SVG by
 * moose itself, nothing loaded from a network) and the migration history with each step's status, time and
 * SQL. Rendered in headless Chromium (Debian's package): the DOM is checked after the browser laid it out,
 * and the screenshot is decoded and must show the graph's colours. Without /usr/bin/chromium (CI installs
 * it in .ci/run) the browser tests are skipped, saying so; the page itself is still checked over HTTP.
 */

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const TEMPLATE = join(REPO, "fixtures", "moose-templates", "typescript");
const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.log(`dev-page: ${CHROMIUM} is not installed, so the headless-browser tests are skipped (apt-get install -y chromium; .ci/run does)`);

/** The template's lineage, as `moose ls --graph` lists it. */
const NODES = [
  "api:ingest/Foo",
  "api:api/bar",
  "api:api/bar/1",
  "topic:FooDeadLetterQueue",
  "topic:Foo",
  "topic:Bar",
  "table:FooDeadLetter",
  "table:Bar",
  "table:FooWorkflow",
  "table:BarAggregated",
  "view:BarAggregated_MV",
  "workflow:generator",
];

let temporal: TemporalTestServer;
let running: DevProcess | undefined;
test.before(async () => {
  temporal = await startTemporalTestServer();
});
test.after.always(async () => {
  await running?.stop();
  await temporal?.close();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Dev {
  readonly dir: string;
  readonly url: string;
  readonly migration: string;
}

let started: Promise<Dev> | undefined;
/** One dev on a copy of the template (with one committed migration it deploys at start), shared by the tests. */
function devOnTemplate(t: ExecutionContext): Promise<Dev> {
  started ??= (async () => {
    const dir = join(tempDir("page"), "typescript");
    cpSync(TEMPLATE, dir, { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    const [host, port] = temporal.address.split(":") as [string, string];
    const env = {
      MOOSE_TEMPORAL_CONFIG__TEMPORAL_HOST: host,
      MOOSE_TEMPORAL_CONFIG__TEMPORAL_PORT: port,
      MOOSE_HTTP_SERVER_CONFIG__MANAGEMENT_PORT: String(await freePort()),
      MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: String(await freePort()),
    };
    const g = await runCli(dir, ["migrate", "generate", "--name", "template"], env);
    if (g.code !== 0) throw new Error(g.stderr);
    const migration = /migrations\/(\S+)\.ts/.exec(g.stdout)![1]!;
    const dev = new DevProcess(dir, [], env);
    running = dev;
    const url = await dev.url();
    await dev.waitFor(/The database matches the code\./, 120_000);
    return { dir, url, migration };
  })();
  t.timeout(180_000);
  return started;
}

/** A raw HTTP/1.1 GET with the Host header given (fetch does not let a test set Host). */
function getWithHost(url: string, host: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    socket.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    socket.on("error", reject);
    socket.write(`GET /_moose HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

/** Runs headless Chromium with the flags that keep it off the network and out of the user's profile. */
function chromium(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(tmpdir(), "moose-chromium-"));
  const child = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    }),
  );
}

/** The RGB pixels of an 8-bit RGB or RGBA PNG (non-interlaced), filters undone. */
function decodePng(bytes: Buffer): { width: number; height: number; pixel: (x: number, y: number) => [number, number, number] } {
  if (bytes.subarray(0, 8).toString("hex") !== "89504e470d0a1a0a") throw new Error("not a PNG");
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString("latin1", pos + 4, pos + 8);
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`unexpected PNG format: depth ${depth}, colour ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? out[y * stride + i - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? out[(y - 1) * stride + i - channels]! : 0;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      out[y * stride + i] = v & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [out[y * stride + x * channels]!, out[y * stride + x * channels + 1]!, out[y * stride + x * channels + 2]!] };
}

test("layout: columns follow the lineage (ingest → topic → table → view → table) and no two boxes overlap", (t) => {
  const { map } = extractApp({ projectDir: TEMPLATE, mainFile: "app/index.ts" });
  const layout = layoutLineage(lineage(map));
  const rank = Object.fromEntries(layout.nodes.map((n) => [n.id, n.rank]));
  t.deepEqual(Object.keys(rank).sort(), [...NODES].sort());
  t.like(rank, { "api:ingest/Foo": 0, "topic:Foo": 1, "topic:Bar": 0, "table:Bar": 1, "view:BarAggregated_MV": 2, "table:BarAggregated": 3 });
  for (const [i, a] of layout.nodes.entries()) {
    t.true(a.x >= 0 && a.y >= 0 && a.x + NODE_WIDTH <= layout.width && a.y + NODE_HEIGHT <= layout.height, `${a.id} inside`);
    for (const b of layout.nodes.slice(i + 1)) {
      t.false(a.x < b.x + NODE_WIDTH && b.x < a.x + NODE_WIDTH && a.y < b.y + NODE_HEIGHT && b.y < a.y + NODE_HEIGHT, `${a.id} and ${b.id} overlap`);
    }
  }
});

test.serial("GET /_moose serves the template's graph and the migration history; only to loopback names", async (t) => {
  const dev = await devOnTemplate(t);
  const res = await fetch(`${dev.url}/_moose`);
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^text\/html/);
  t.regex(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  const html = await res.text();
  for (const id of NODES) t.true(html.includes(`data-id="${id}"`), `node ${id}`);
  t.true(html.includes('data-from="view:BarAggregated_MV" data-to="table:BarAggregated"'));
  t.regex(html, new RegExp(`<tr class="migration" data-id="${dev.migration}" data-status="applied">`));
  t.regex(html, /<pre class="sql">CREATE TABLE[^<]*`?Bar`?/);
  t.notRegex(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "nothing is loaded from anywhere");
  t.is(await getWithHost(dev.url, "attacker.example"), 403, "a rebound DNS name is refused");
  t.is(await getWithHost(dev.url, "localhost"), 200);
});

const browserTest = HAS_CHROMIUM ? test.serial : test.skip;

browserTest("headless Chromium: the page lays out the template's graph (DOM after layout) and the screenshot shows it", async (t) => {
  const dev = await devOnTemplate(t);
  const dom = await chromium(["--virtual-time-budget=5000", "--dump-dom", `${dev.url}/_moose`]);
  t.is(dom.code, 0, dom.stderr);
  // Written by the page's own script from the boxes the browser laid out.
  t.regex(dom.stdout, /<svg[^>]* data-layout="12 nodes; inside; no overlap"/);
  for (const id of NODES) t.true(dom.stdout.includes(`data-id="${id}"`), `node ${id} in the DOM`);
  t.is((dom.stdout.match(/<path class="edge"/g) ?? []).length, 6);
  // The template's Foo → Bar transform is the app's code, read from it: drawn as an edge between the topics.
  t.regex(dom.stdout, /<path class="edge" data-from="topic:Foo" data-to="topic:Bar"/);
  t.regex(dom.stdout, new RegExp(`data-id="${dev.migration}" data-status="applied"`));

  const png = join(mkdtempSync(join(tmpdir(), "moose-shot-")), "page.png");
  const shot = await chromium(["--hide-scrollbars", "--window-size=1400,900", `--screenshot=${png}`, `${dev.url}/_moose`]);
  t.is(shot.code, 0, shot.stderr);
  const bytes = readFileSync(png);
  const image = decodePng(bytes);
  t.deepEqual([image.width, image.height], [1400, 900]);
  const counts = new Map<string, number>();
  for (let y = 0; y < image.height; y += 2) for (let x = 0; x < image.width; x += 2) {
    const key = image.pixel(x, y).join(",");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  t.true(counts.size > 50, `${counts.size} colours: text, boxes and lines were drawn`);
  // The box fills by kind (lib/project/lineage.ts): table, topic, view, api, workflow.
  const fills: Record<string, string> = { table: "220,252,231", topic: "254,243,199", view: "243,232,255", api: "219,234,254", workflow: "229,231,235" };
  for (const [kind, rgb] of Object.entries(fills)) t.true((counts.get(rgb) ?? 0) > 200, `${kind} boxes painted (${counts.get(rgb) ?? 0} samples of rgb(${rgb}))`);
  t.log(`screenshot ${bytes.length} bytes, ${counts.size} colours`);
});
