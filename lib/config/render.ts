import { IGNORED_KEYS, IGNORED_SECTIONS, IGNORED_TOP_LEVEL_KEYS } from "./moose-keys.js";
import { CONFIG_SCHEMA, TOP_LEVEL_KEYS, envVarName, type KeySpec, type TomlLiteral, type ValueKind } from "./schema.js";

/**
 * The `moose.config.toml` that `moose init` writes: every section and key,
 * each with a comment. It selects the embedded engines (no server to run),
 * and parses back to `DEFAULT_CONFIG`. Keys whose presence changes behaviour
 * (`host`, `broker`, …) or whose default depends on another key are written
 * commented out.
 *
 * @example
 * await writeFile(join(dir, "moose.config.toml"), renderDefaultConfig());
 */
export function renderDefaultConfig(): string {
  const lines: string[] = [
    "# moose.config.toml: settings of this Moose project.",
    "#",
    "# Every key is optional; the values shown are the defaults. As written by `moose init`, the",
    "# project uses the embedded engines (ClickHouse via chDB, a local stream log), so `moose dev`",
    "# needs no server.",
    "# Lines starting with # are comments; remove the # to set a key.",
    "#",
    "# Any key can be overridden by an environment variable MOOSE_<SECTION>__<KEY>, for example",
    "# MOOSE_CLICKHOUSE_CONFIG__PASSWORD=... or MOOSE_HTTP_SERVER_CONFIG__PORT=4001.",
    "#",
    "# A moose.config.toml written by Moose itself loads as it is: the keys listed at the end of this",
    "# file are accepted, and each is named once when a command starts, with why it is ignored.",
    "",
    "# Keys outside any section (before the first [section]). Env: MOOSE_<KEY>, e.g. MOOSE_SOURCE_DIR.",
  ];
  for (const [key, keySpec] of Object.entries<KeySpec>(TOP_LEVEL_KEYS)) lines.push(...renderKey(key, key, keySpec));
  for (const [section, spec] of Object.entries(CONFIG_SCHEMA)) {
    lines.push("", ...comment(spec.doc), `[${section}]`);
    for (const [key, keySpec] of Object.entries<KeySpec>(spec.keys)) lines.push(...renderKey(`${section}.${key}`, key, keySpec));
  }
  lines.push("", ...comment(ignoredKeysText()));
  return `${lines.join("\n")}\n`;
}

function renderKey(id: string, key: string, keySpec: KeySpec): string[] {
  const doc = keySpec.defaultText === undefined ? keySpec.doc : `${keySpec.doc} Default: ${keySpec.defaultText}.`;
  const value = keySpec.default ?? keySpec.example;
  if (value === undefined) throw new Error(`config key ${id} has neither a default nor an example`);
  const line = `${key} = ${tomlLiteral(value)}`;
  return [...comment(doc), keySpec.render === "active" && keySpec.default !== undefined ? line : `# ${line}`];
}

/** The Moose keys that are accepted and ignored, as one paragraph per reason. */
export function ignoredKeysText(): string {
  const paragraphs = ["Accepted from Moose's own config files, and ignored here:"];
  for (const [key, why] of Object.entries(IGNORED_TOP_LEVEL_KEYS)) paragraphs.push(`- ${key}: ${why}.`);
  for (const [section, spec] of Object.entries(IGNORED_SECTIONS)) {
    const keys = spec.keys === "any" ? "any keys" : spec.keys.join(", ");
    paragraphs.push(`- [${section}] (${keys}): ${spec.why}.`);
  }
  for (const [section, groups] of Object.entries(IGNORED_KEYS)) {
    for (const group of groups) paragraphs.push(`- ${section}.${group.keys.join(", ")}: ${group.why}.`);
  }
  paragraphs.push("- [kafka_config] is read as [redpanda_config].");
  return paragraphs.join("\n");
}

/**
 * The Markdown table of every key (README "Configuration" section), from the
 * same schema the parser validates against.
 */
export function renderConfigReference(): string {
  const rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"];
  const row = (id: string, env: string, keySpec: KeySpec): void => {
    const fallback = keySpec.defaultText ?? (keySpec.default === undefined ? "unset" : tomlLiteral(keySpec.default));
    const cells = [
      `\`${id}\``,
      kindName(keySpec.kind),
      keySpec.defaultText === undefined ? `\`${fallback}\`` : escapeHtml(fallback),
      `${escapeHtml(keySpec.doc)} Env: \`${env}\`.`,
    ];
    rows.push(`| ${cells.map((c) => c.replaceAll("|", "\\|").replaceAll("\n", " ")).join(" | ")} |`);
  };
  for (const [key, keySpec] of Object.entries<KeySpec>(TOP_LEVEL_KEYS)) row(key, `MOOSE_${key.toUpperCase()}`, keySpec);
  for (const [section, spec] of Object.entries(CONFIG_SCHEMA)) {
    for (const [key, keySpec] of Object.entries<KeySpec>(spec.keys)) row(`${section}.${key}`, envVarName(section, key), keySpec);
  }
  return `${rows.join("\n")}\n`;
}

const WIDTH = 100;

/** `# `-prefixed lines, wrapped at WIDTH columns; explicit newlines in `text` are kept. */
// `<state_dir>` would read as an HTML tag in Markdown.
function escapeHtml(text: string): string {
  return text.replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function comment(text: string): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "#";
    for (const word of paragraph.split(" ")) {
      if (line !== "#" && line.length + 1 + word.length > WIDTH) {
        out.push(line);
        line = "#";
      }
      line += ` ${word}`;
    }
    out.push(line);
  }
  return out;
}

function tomlLiteral(value: TomlLiteral): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `[${value.map((v) => (typeof v === "string" ? JSON.stringify(v) : `{ name = ${JSON.stringify(v.name)} }`)).join(", ")}]`;
}

function kindName(kind: ValueKind): string {
  switch (kind.type) {
    case "boolean":
      return "bool";
    case "port":
      return "port (1–65535)";
    case "positiveInteger":
      return "positive integer";
    case "string":
      return "string";
    case "host":
      return "host name / IP";
    case "identifier":
      return "identifier";
    case "topicPrefix":
      return "string (topic-name chars)";
    case "hostPort":
      return '"host:port"';
    case "hostPortList":
      return '"host:port", comma-separated list allowed';
    case "hostPortArray":
      return 'array of "host:port"';
    case "enum":
      return kind.values.map((v) => `"${v}"`).join(" | ");
    case "path":
      return "path";
    case "identifierArray":
      return "array of database names";
    case "globArray":
      return "array of glob patterns";
    case "redisUrl":
      return "redis:// or rediss:// URL";
    case "clusters":
      return 'array of tables { name = "…" }';
  }
}
