import test from "ava";
import { constantTimeEqual, generateToken, legacyKeyFor, parseApiKey, PBKDF2_ITERATIONS, verifyToken } from "../lib/auth/token.js";
import { InvalidInputError } from "../lib/errors.js";
import { runCli, tempDir } from "./helpers/cli.js";

// Vectors computed independently with Python's hashlib.pbkdf2_hmac.
const LEGACY_TOKEN = "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210";
const LEGACY_KEY = "f029d4ad44b6a392ebc362454d348b2bf2727800";
const OUR_TOKEN = "moose_test-token";
const OUR_KEY = "$pbkdf2-sha256$i=600000$AAECAwQFBgcICQoLDA0ODw==$sxGCGdScxhmny0SoHG5fLv5eBlqbwpSp7W/wB/jPMRM=";

test("generated tokens verify against their hash and nothing else", async (t) => {
  const a = await generateToken();
  const b = await generateToken();
  t.not(a.bearerToken, b.bearerToken);
  t.regex(a.apiKeyHash, new RegExp(`^\\$pbkdf2-sha256\\$i=${PBKDF2_ITERATIONS}\\$[A-Za-z0-9+/=]{24}\\$[A-Za-z0-9+/=]{44}$`));
  const key = parseApiKey(a.apiKeyHash);
  t.true(await verifyToken(a.bearerToken, key));
  t.false(await verifyToken(b.bearerToken, key));
  t.false(await verifyToken("", key));
  t.false(await verifyToken(a.bearerToken + "x", key));
});

test("our format matches an independent PBKDF2 implementation", async (t) => {
  t.true(await verifyToken(OUR_TOKEN, parseApiKey(OUR_KEY)));
  t.false(await verifyToken("moose_test-tokem", parseApiKey(OUR_KEY)));
});

test("keys written by the original Moose CLI keep working", async (t) => {
  t.is(legacyKeyFor(LEGACY_TOKEN), LEGACY_KEY);
  const key = parseApiKey(LEGACY_KEY);
  t.is(key.format, "moose-legacy");
  t.true(await verifyToken(LEGACY_TOKEN, key));
  // The token parts are hashed as ASCII text, so their case matters.
  t.false(await verifyToken(LEGACY_TOKEN.toUpperCase(), key));
  t.false(await verifyToken("0123456789abcdef0123456789abcdee.fedcba9876543210fedcba9876543210", key));
  t.false(await verifyToken("not-a-legacy-token", key));
  t.false(await verifyToken(OUR_TOKEN, key));
});

test("malformed configured keys are clear errors, never crashes", (t) => {
  const cases: Array<[string, RegExp]> = [
    ["", /neither a "\$pbkdf2-sha256\$i=…\$salt\$hash" string nor a 40-hex-digit key/],
    ["your-hashed-token", /neither/],
    ["f029d4ad44b6a392ebc362454d348b2bf27278", /neither/],
    ["$pbkdf2-sha256$i=10$AAECAwQFBgcICQoLDA0ODw==$sxGCGdScxhmny0SoHG5fLv5eBlqbwpSp7W/wB/jPMRM=", /iteration count 10 is outside/],
    ["$pbkdf2-sha256$i=600000$AAEC$sxGCGdScxhmny0SoHG5fLv5eBlqbwpSp7W/wB/jPMRM=", /salt is shorter than 8 bytes/],
    ["$pbkdf2-sha256$i=600000$AAECAwQFBgcICQoLDA0ODw==$sxGC", /hash is shorter than 16 bytes/],
  ];
  for (const [key, message] of cases) {
    const e = t.throws(() => parseApiKey(key), { instanceOf: InvalidInputError });
    t.is(e?.code, "AUTH_KEY_MALFORMED");
    t.regex(e?.message ?? "", /^authentication\.admin_api_key is not a valid admin API key hash: /);
    t.regex(e?.message ?? "", message, key);
    t.regex(e?.hint ?? "", /moose generate hash-token/);
  }
});

test("constant-time comparison: equal inputs only, any length", (t) => {
  t.true(constantTimeEqual(Buffer.from("abc"), Buffer.from("abc")));
  t.false(constantTimeEqual(Buffer.from("abc"), Buffer.from("abd")));
  t.false(constantTimeEqual(Buffer.from("abc"), Buffer.from("abcd")));
  t.false(constantTimeEqual(Buffer.alloc(0), Buffer.from("a")));
});

test("moose generate hash-token prints a verifiable pair; --json uses the original CLI's field names", async (t) => {
  const dir = tempDir("token");
  const json = await runCli(dir, ["generate", "hash-token", "--json"]);
  t.is(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as Record<string, string>;
  t.deepEqual(Object.keys(doc).sort(), ["api_key_hash", "bearer_token"]);
  t.true(await verifyToken(doc["bearer_token"]!, parseApiKey(doc["api_key_hash"]!)));
  const text = await runCli(dir, ["generate", "hash-token"]);
  t.is(text.code, 0);
  t.regex(text.stdout, /\[authentication\]\n  admin_api_key = "\$pbkdf2-sha256\$i=600000\$[^"]+"\n/);
  t.regex(text.stdout, /MOOSE_AUTHENTICATION__ADMIN_API_KEY='\$pbkdf2-sha256/);
});
