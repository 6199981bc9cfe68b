import { type Args, defineCommand, port } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose dev`: its flags and help text, as the parser declares them and `run` receives them. */
export const devCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.dev,
  options: {
    port: { type: "number", describe: "dev server port (default: http_server_config.port)", coerce: port("port") },
    "accept-data-loss": { type: "boolean", default: false, describe: "apply changes that lose data without asking (for non-interactive runs)" },
  },
});

export type DevArgs = Args<typeof devCommand>;
