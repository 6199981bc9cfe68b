import { createHash } from "node:crypto";

/** The only checksum algorithm the ledger writes today; stored next to every checksum so it can change later. */
export const CHECKSUM_ALGORITHM = "sha256-lf-nobom";
export type ChecksumAlgorithm = typeof CHECKSUM_ALGORITHM;

export interface Checksum {
  readonly algorithm: ChecksumAlgorithm;
  /** Lower-case hex sha256 of the normalised text. */
  readonly checksum: string;
}

/**
 * Line endings and a byte-order mark say nothing about what a migration does, but
 * editors and `git config core.autocrlf` change them. Hashing them would make a
 * checkout on Windows look like an edited migration, so they are normalised away.
 */
export function normaliseForChecksum(text: string): string {
  const withoutBom = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return withoutBom.replace(/\r\n?/g, "\n");
}

/**
 * The checksum a migration file is recorded with: sha256 of its text with CRLF and
 * lone CR turned into LF and a leading BOM removed.
 *
 * @example
 * checksumOf("\uFEFFup();\r\n").checksum === checksumOf("up();\n").checksum; // true
 */
export function checksumOf(text: string): Checksum {
  const checksum = createHash("sha256").update(normaliseForChecksum(text), "utf8").digest("hex");
  return { algorithm: CHECKSUM_ALGORITHM, checksum };
}
