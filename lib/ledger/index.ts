export { openLedger, type Ledger, type MirrorLedger, type OpenLedgerOptions, type BeginMigration, type BeginOptions, type StepDoneOptions } from "./ledger.js";
export { checksumOf, normaliseForChecksum, CHECKSUM_ALGORITHM, type Checksum, type ChecksumAlgorithm } from "./checksum.js";
export { defaultLockOwner } from "./lock-owner.js";
export { LEDGER_SCHEMA_VERSION } from "./schema.js";
export type { MigrationRecord, MigrationStatus, StepRecord, StepStatus, LockHolder, LockResult, RenewResult } from "./records.js";
