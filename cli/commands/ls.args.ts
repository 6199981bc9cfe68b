import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose ls`: its flags and help text, as the parser declares them and `run` receives them. */
export const lsCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.ls,
  options: {
    json: JSON_OPTION,
    graph: { type: "boolean", default: false, describe: "print the lineage (ingest API → topic → table → view → table) as a Mermaid flowchart" },
    format: { type: "string", choices: ["mermaid", "dot", "svg"], default: "mermaid", describe: "with --graph: mermaid, dot for Graphviz, or svg (the drawing moose dev's /_moose page shows)" },
    type: { type: "string", choices: ["table", "view", "plain-view", "sql-resource", "topic", "api", "workflow", "process"], describe: "only objects of this kind" },
  },
});

export type LsArgs = Args<typeof lsCommand>;
