import { lstatSync, realpathSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";

/**
 * The folder of a workspace package an import names: `name` (a bare package name, no subpath) as
 * Node would find it from `fromDir` (the nearest `node_modules/<name>`), when that entry is a link
 * to a folder outside every node_modules folder — what pnpm, npm and yarn workspaces install for a
 * package of the same repository. A package installed from a registry, a subpath import and a
 * relative import give undefined. File system only (no compiler): the module loader's thread uses it.
 */
export function workspacePackageDir(name: string, fromDir: string): string | undefined {
  if (name.startsWith(".") || name.startsWith("/") || name.startsWith("node:") || name.includes(":")) return undefined;
  const parts = name.split("/");
  if (parts.length !== (name.startsWith("@") ? 2 : 1)) return undefined;
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const entry = join(dir, "node_modules", name);
    const link = linkOrFolder(entry);
    if (link === "link") {
      const real = realpath(entry);
      return real === undefined || real.split(sep).includes("node_modules") || !isFolder(real) ? undefined : real;
    }
    if (link === "folder") return undefined;
    if (dirname(dir) === dir) return undefined;
  }
}

function linkOrFolder(path: string): "link" | "folder" | undefined {
  try {
    const s = lstatSync(path);
    return s.isSymbolicLink() ? "link" : s.isDirectory() ? "folder" : undefined;
  } catch {
    return undefined;
  }
}

function realpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
