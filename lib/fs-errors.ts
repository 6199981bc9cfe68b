import { InvalidInputError } from "./errors.js";

/**
 * A file-system failure on a path the user controls, as an error naming the path and what
 * to do (`error[CODE]`, exit 2), or `undefined` for a failure that is not about the path's
 * shape or permissions (the caller rethrows those).
 *
 * @example fileSystemError(enotdirError, "migrations", "the migrations folder")?.code // "PATH_NOT_A_FOLDER"
 */
export function fileSystemError(error: unknown, path: string, what: string): InvalidInputError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOTDIR":
      return new InvalidInputError("PATH_NOT_A_FOLDER", `${what} ${path}: it, or a folder on its way, is a file`, { hint: "move the file out of the way, or point the config at the right folder" });
    case "EISDIR":
      return new InvalidInputError("PATH_IS_A_FOLDER", `${what} ${path} is a folder, not a file`, { hint: "put the file there, or point the config at the file" });
    case "ELOOP":
      return new InvalidInputError("PATH_SYMLINK_LOOP", `${what} ${path} is a symbolic link that leads back to itself`, { hint: "replace the link with the file, or point it at the real file" });
    case "EACCES":
    case "EPERM":
      return new InvalidInputError("PATH_NOT_READABLE", `${what} ${path} cannot be read or written by this user (${code})`, { hint: "fix its permissions (ls -l shows them)" });
    default:
      return undefined;
  }
}
