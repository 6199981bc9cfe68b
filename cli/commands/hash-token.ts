import { generateToken } from "../../lib/auth/token.js";
import { ExitCode } from "../../lib/errors.js";
import type { CliIO } from "../io.js";
import type { HashTokenArgs } from "./hash-token.args.js";

export async function run(args: HashTokenArgs, io: CliIO): Promise<number> {
  const { bearerToken, apiKeyHash } = await generateToken();
  if (args.json) {
    io.stdout.write(JSON.stringify({ api_key_hash: apiKeyHash, bearer_token: bearerToken }, null, 2) + "\n");
    return ExitCode.success;
  }
  io.stdout.write(
    [
      "Bearer token (keep it secret; clients send it as `Authorization: Bearer <token>`, e.g. moose plan --token):",
      `  ${bearerToken}`,
      "",
      "Hash for the server's moose.config.toml (safe to commit):",
      "  [authentication]",
      `  admin_api_key = "${apiKeyHash}"`,
      "",
      "or as an environment variable:",
      `  MOOSE_AUTHENTICATION__ADMIN_API_KEY='${apiKeyHash}'`,
      "",
    ].join("\n"),
  );
  return ExitCode.success;
}
