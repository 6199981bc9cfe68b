import test from "ava";
import { usageMessage, type CommandWords } from "../cli/usage-error.js";

const TREE: CommandWords[] = [
  { name: "plan", flags: ["json", "url", "token", "timeout"] },
  { name: "logs", flags: ["follow", "f", "filter"] },
  {
    name: "migrate",
    children: [
      { name: "deploy", flags: ["dry-run", "allow-out-of-order", "lock-timeout", "resume-running", "json"] },
      { name: "status", flags: ["json"] },
    ],
  },
];

const CASES: ReadonlyArray<[message: string, argv: string[], expected: string]> = [
  ["Unknown argument: dryrun", ["migrate", "deploy", "--dryrun"], "Unknown argument: dryrun; did you mean --dry-run?"],
  ["Unknown argument: DRY-RUN", ["migrate", "deploy", "--DRY-RUN"], "Unknown argument: DRY-RUN; did you mean --dry-run?"],
  ["Unknown argument: lock-timout", ["migrate", "deploy", "--lock-timout=5"], "Unknown argument: lock-timout; did you mean --lock-timeout?"],
  ["Unknown argument: jsno", ["plan", "--jsno"], "Unknown argument: jsno; did you mean --json?"],
  ["Unknown argument: plna", ["plna"], "Unknown argument: plna; did you mean plan?"],
  ["Unknown argument: deplyo", ["migrate", "deplyo"], "Unknown argument: deplyo; did you mean deploy?"],
  // yargs names an unknown dashed flag twice (as given and camel-cased): once is enough.
  ["Unknown arguments: allow-out-of-oder, allowOutOfOder", ["migrate", "deploy", "--allow-out-of-oder"], "Unknown argument: allow-out-of-oder; did you mean --allow-out-of-order?"],
  ["Unknown arguments: x-y, xY, zz", ["plan", "--x-y", "--zz"], "Unknown arguments: x-y, zz"],
  // Nothing close enough: no guess.
  ["Unknown argument: everything", ["migrate", "status", "--everything"], "Unknown argument: everything"],
  ["Unknown argument: x", ["logs", "-x"], "Unknown argument: x"],
  // A flag given in camelCase is known; a value of a flag is not a command word.
  ["Unknown argument: jsn", ["migrate", "deploy", "--dryRun", "--lock-timeout", "3", "--jsn"], "Unknown argument: jsn; did you mean --json?"],
  // The suggestion is only for the word the message is about.
  ["Not enough non-option arguments: got 0, need at least 1", ["plan", "--jsn"], "Not enough non-option arguments: got 0, need at least 1"],
  ["--port must be a port number 0–65535", ["plan", "--port", "x"], "--port must be a port number 0–65535"],
];

for (const [message, argv, expected] of CASES) {
  test(`moose ${argv.join(" ")}: ${expected}`, (t) => {
    t.is(usageMessage(message, argv, TREE), expected);
  });
}
