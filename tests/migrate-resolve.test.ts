import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { moose, tempDir } from "./helpers/cli.js";

/**
 * `moose migrate resolve`: after a deploy failed part-way and someone finished (or
 * undid) it by hand, the migration is recorded as applied (or pending again) without
 * running anything — and only when the live objects agree. Real CLI, embedded engine.
 */

const APP = `import { OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }): string {
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A project whose second migration (age, then city) failed after adding age. */
function halfApplied(t: Parameters<typeof ok>[0]): { dir: string; id: string } {
  const root = tempDir("resolve");
  ok(t, moose(root, ["init", "p"]));
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "create"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  email: string;\n", "  email: string;\n  age?: number;\n  city?: string;\n"));
  ok(t, moose(dir, ["migrate", "generate", "--name", "two columns"]));
  const file = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_two_columns.ts"))[0]!;
  const path = join(dir, "migrations", file);
  writeFileSync(path, readFileSync(path, "utf8").replace(/(    addColumn\("Users", \{ name: "city")/, "    sql(\"SELECT throwIf(1, 'stopped on purpose')\"),\n$1"));
  const d = moose(dir, ["migrate", "deploy"]);
  t.is(d.code, 1, d.stdout + d.stderr);
  return { dir, id: file.replace(/\.ts$/, "") };
}

test("resolve --applied is refused while the database contradicts it, and records the migration once it is finished by hand", (t) => {
  const { dir, id } = halfApplied(t);
  const refused = moose(dir, ["migrate", "resolve", "--applied", id]);
  t.is(refused.code, 3, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /error\[RESOLVE_CONTRADICTED\]: the live database is not as \d{14}_two_columns\.ts leaves it; nothing was recorded\n  table Users is missing its column city Nullable\(String\)/);
  t.regex(moose(dir, ["migrate", "status"]).stdout, /_two_columns\s+partially_applied/, "nothing was recorded");
  ok(t, moose(dir, ["query", "ALTER TABLE Users ADD COLUMN city Nullable(String)", "--write"]));
  t.regex(ok(t, moose(dir, ["migrate", "resolve", "--applied", id])), new RegExp(`Recorded ${id} as applied \\(was partially applied\\); nothing was run\\.`));
  t.regex(ok(t, moose(dir, ["migrate", "status"])), /_two_columns\s+applied[\s\S]*Up to date\./);
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /No pending migrations/);
});

test("resolve --rolled-back needs the half-applied step undone by hand; the migration is then pending again", (t) => {
  const { dir, id } = halfApplied(t);
  const refused = moose(dir, ["migrate", "resolve", "--rolled-back", id]);
  t.is(refused.code, 3, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /error\[RESOLVE_CONTRADICTED\]: the live database is not as \d{14}_two_columns\.ts found it/);
  ok(t, moose(dir, ["query", "ALTER TABLE Users DROP COLUMN age", "--write"]));
  t.regex(ok(t, moose(dir, ["migrate", "resolve", "--rolled-back", id])), /as rolled back \(was partially applied\): it is pending again/);
  const status = moose(dir, ["migrate", "status"]);
  t.is(status.code, 4, status.stdout + status.stderr);
  t.regex(status.stdout, /_two_columns\s+pending/);
});

test("resolve names exactly one of --applied / --rolled-back, and a known migration", (t) => {
  const { dir, id } = halfApplied(t);
  const none = moose(dir, ["migrate", "resolve"]);
  t.is(none.code, 2);
  t.regex(none.stderr, /error\[RESOLVE_USAGE\]: name exactly one of --applied <id> or --rolled-back <id>/);
  const both = moose(dir, ["migrate", "resolve", "--applied", id, "--rolled-back", id]);
  t.is(both.code, 2);
  const unknown = moose(dir, ["migrate", "resolve", "--applied", "20990101000000_nope"]);
  t.is(unknown.code, 3);
  t.regex(unknown.stderr, /error\[RESOLVE_UNKNOWN\]: 20990101000000_nope is not a migration file/);
  const applied = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_create.ts"))[0]!.replace(/\.ts$/, "");
  const again = moose(dir, ["migrate", "resolve", "--rolled-back", applied]);
  t.is(again.code, 3);
  t.regex(again.stderr, /error\[RESOLVE_NOT_FAILED\]: .* is applied; undo an applied migration with `moose migrate rollback`/);
});
