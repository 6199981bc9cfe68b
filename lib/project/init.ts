import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, lstatSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { CONFIG_FILE_NAME, renderDefaultConfig } from "../config/config.js";
import { InvalidInputError } from "../errors.js";
import { PACKAGE_ROOT } from "../extract/program.js";

/** The seed page's example, as the first app of every new project. */
export const SEED_APP = `import { OlapTable, Stream } from "moose-migrate";

// Each exported object is infrastructure: \`moose plan\` shows what would change,
// \`moose dev\` applies it as you save, \`moose migrate generate\` writes it down for review.
interface UserSchema {
  id: string;
  name: string;
  email: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
export const userEvents = new Stream<UserSchema>("UserEvents");
`;

const GITIGNORE = `# moose-migrate local state: embedded ClickHouse data, stream logs, the dev ledger
.moose/
node_modules/
# moose dev's rolling draft; \`moose migrate generate --name X\` turns it into a reviewed migration
migrations/.draft.ts
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  },
  include: ["app/**/*.ts"],
};

export interface InitResult {
  readonly projectDir: string;
  /** Paths written, relative to projectDir. */
  readonly written: readonly string[];
}

/**
 * Scaffolds a project, offline: the seed app, a config using the embedded
 * engines, `migrations/`, and a package.json depending on this package. The
 * package is linked into `node_modules/` as `npm install` would link a `file:`
 * dependency, so the editor, the type checker and `npx moose` work at once.
 *
 * Refuses to overwrite: a folder that already has a moose.config.toml or an
 * app/index.ts is left alone.
 */
export function initProject(dir: string): InitResult {
  const projectDir = resolve(dir);
  for (const existing of [CONFIG_FILE_NAME, join("app", "index.ts")]) {
    if (existsSync(join(projectDir, existing))) {
      throw new InvalidInputError("PROJECT_EXISTS", `${join(projectDir, existing)} already exists; moose init never overwrites a project`, {
        hint: "run moose commands in that folder, or choose a new one: moose init <new-dir>",
      });
    }
  }
  const written: string[] = [];
  const write = (rel: string, text: string) => {
    const path = join(projectDir, rel);
    if (existsSync(path)) return;
    mkdirSync(resolve(path, ".."), { recursive: true });
    writeFileSync(path, text);
    written.push(rel);
  };
  mkdirSync(projectDir, { recursive: true });
  write(join("app", "index.ts"), SEED_APP);
  write(CONFIG_FILE_NAME, renderDefaultConfig());
  write(join("migrations", ".gitkeep"), "");
  write(".gitignore", GITIGNORE);
  write("tsconfig.json", JSON.stringify(TSCONFIG, null, 2) + "\n");
  const name = basename(projectDir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "moose-app";
  write(
    "package.json",
    JSON.stringify(
      {
        name,
        version: "0.0.0",
        private: true,
        type: "module",
        scripts: { dev: "moose dev", plan: "moose plan" },
        dependencies: { "moose-migrate": `file:${relativeOrAbsolute(projectDir, PACKAGE_ROOT)}` },
      },
      null,
      2,
    ) + "\n",
  );
  linkPackage(projectDir);
  return { projectDir, written };
}

function relativeOrAbsolute(from: string, to: string): string {
  const rel = relative(from, to);
  return rel.split("/").filter((p) => p === "..").length > 3 ? to : rel || ".";
}

/** node_modules/moose-migrate → this package, node_modules/.bin/moose → its CLI. */
function linkPackage(projectDir: string): void {
  const modules = join(projectDir, "node_modules");
  const bin = join(modules, ".bin");
  mkdirSync(bin, { recursive: true });
  const link = (target: string, path: string) => {
    if (exists(path)) return;
    symlinkSync(target, path);
  };
  link(PACKAGE_ROOT, join(modules, "moose-migrate"));
  link(join(PACKAGE_ROOT, "dist", "cli", "bin.js"), join(bin, "moose"));
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}
