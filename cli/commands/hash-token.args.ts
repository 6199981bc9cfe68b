import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `moose generate hash-token`: its flags and help text, as the parser declares them and `run` receives them. */
export const hashTokenCommand = defineCommand({
  command: "hash-token",
  describe: "print a new admin bearer token and the hash for [authentication] admin_api_key",
  options: { json: JSON_OPTION },
});

export type HashTokenArgs = Args<typeof hashTokenCommand>;
