import { type Args, defineCommand, port } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose prod`: its flags and help text, as the parser declares them and `run` receives them. */
export const prodCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.prod,
  options: {
    port: { type: "number", describe: "port to listen on (default: http_server_config.port)", coerce: port("port") },
  },
});

export type ProdArgs = Args<typeof prodCommand>;
