import { createHash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { InvalidInputError } from "../errors.js";

const pbkdf2Async = promisify(pbkdf2);

/**
 * Admin API tokens. `moose generate hash-token` prints a bearer token for
 * clients and a hash for `[authentication] admin_api_key`; the server keeps
 * only the hash.
 *
 * Our hash is a self-describing PHC-style string:
 *   `$pbkdf2-sha256$i=600000$<salt, base64>$<hash, base64>`
 * (PBKDF2-HMAC-SHA256, 600,000 iterations, 16-byte salt, 32-byte hash: the
 * OWASP 2023 figure). Keys written by the original Moose CLI are accepted too:
 * 40 hex digits, the PBKDF2-HMAC-SHA256 of a `<32 hex>.<32 hex>` token's first
 * part salted with its second part (both as ASCII text), 1,000 iterations, 20 bytes.
 */
export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

export type ApiKey =
  | { readonly format: "pbkdf2-sha256"; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly format: "moose-legacy"; readonly hash: Buffer };

export interface GeneratedToken {
  readonly bearerToken: string;
  readonly apiKeyHash: string;
}

/** A new random token and its hash. */
export async function generateToken(): Promise<GeneratedToken> {
  const bearerToken = `moose_${randomBytes(32).toString("base64url")}`;
  const salt = randomBytes(SALT_BYTES);
  const hash = await pbkdf2Async(bearerToken, salt, PBKDF2_ITERATIONS, HASH_BYTES, "sha256");
  return { bearerToken, apiKeyHash: `$pbkdf2-sha256$i=${PBKDF2_ITERATIONS}$${salt.toString("base64")}$${hash.toString("base64")}` };
}

const PHC = /^\$pbkdf2-sha256\$i=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
const LEGACY_KEY = /^[0-9a-f]{40}$/i;
const LEGACY_TOKEN = /^([0-9a-f]{32})\.([0-9a-f]{32})$/i;

/**
 * Validates a configured key once, at start-up, so a malformed key is a clear
 * configuration error and never a failure per request.
 */
export function parseApiKey(key: string, where = "authentication.admin_api_key"): ApiKey {
  const trimmed = key.trim();
  if (LEGACY_KEY.test(trimmed)) return { format: "moose-legacy", hash: Buffer.from(trimmed.toLowerCase(), "hex") };
  const m = PHC.exec(trimmed);
  if (m) {
    const iterations = Number(m[1]);
    const salt = Buffer.from(m[2]!, "base64");
    const hash = Buffer.from(m[3]!, "base64");
    if (iterations < 100_000 || iterations > 10_000_000) throw malformed(where, `its iteration count ${iterations} is outside 100,000–10,000,000`);
    if (salt.length < 8) throw malformed(where, "its salt is shorter than 8 bytes");
    if (hash.length < 16) throw malformed(where, "its hash is shorter than 16 bytes");
    return { format: "pbkdf2-sha256", iterations, salt, hash };
  }
  throw malformed(where, 'it is neither a "$pbkdf2-sha256$i=…$salt$hash" string nor a 40-hex-digit key from the original Moose CLI');
}

function malformed(where: string, why: string): InvalidInputError {
  return new InvalidInputError("AUTH_KEY_MALFORMED", `${where} is not a valid admin API key hash: ${why}`, {
    hint: "generate one with `moose generate hash-token` and paste its api_key_hash (never the bearer token itself)",
  });
}

/** Whether `token` matches `key`. Constant-time in the compared bytes. */
export async function verifyToken(token: string, key: ApiKey): Promise<boolean> {
  if (key.format === "moose-legacy") {
    const m = LEGACY_TOKEN.exec(token);
    // Still derive on a malformed token, so timing does not tell formats apart.
    const [part, salt] = m ? [m[1]!, m[2]!] : [token, ""];
    const derived = await pbkdf2Async(part, salt, 1000, 20, "sha256");
    return constantTimeEqual(derived, key.hash) && m !== null;
  }
  const derived = await pbkdf2Async(token, key.salt, key.iterations, key.hash.length, "sha256");
  return constantTimeEqual(derived, key.hash);
}

/** The legacy derivation, for tests and for users migrating keys. */
export function legacyKeyFor(token: string): string {
  const m = LEGACY_TOKEN.exec(token);
  if (!m) throw new InvalidInputError("AUTH_TOKEN_MALFORMED", "a token in the original Moose format is <32 hex digits>.<32 hex digits>");
  return pbkdf2Sync(m[1]!, m[2]!, 1000, 20, "sha256").toString("hex");
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  // timingSafeEqual needs equal lengths; compare digests so length differences take the same path.
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}
