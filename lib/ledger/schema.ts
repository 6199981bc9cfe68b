/**
 * The ledger's own schema, versioned like the migrations it records: a newer
 * moose-migrate appends a step here and every ledger it opens is brought up to
 * date inside the same write transaction that checks the version, so two
 * processes opening an old ledger at once upgrade it exactly once.
 */

/** Bootstraps the version table; everything else is created by a versioned step. */
export const SCHEMA_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ledger_schema (
  version      INTEGER NOT NULL PRIMARY KEY,
  description  TEXT    NOT NULL,
  applied_at   TEXT    NOT NULL,
  tool_version TEXT    NOT NULL
) STRICT`;

export interface LedgerSchemaStep {
  readonly version: number;
  readonly description: string;
  readonly statements: readonly string[];
}

export const LEDGER_SCHEMA_STEPS: readonly LedgerSchemaStep[] = [
  {
    version: 1,
    description: "migrations, migration_steps and migrate_lock",
    statements: [
      // Timestamps are ISO-8601 UTC text with milliseconds: readable in any SQLite
      // browser and ordered correctly by plain text comparison.
      `CREATE TABLE migrations (
        id                 TEXT    NOT NULL PRIMARY KEY,
        file_name          TEXT    NOT NULL,
        checksum           TEXT    NOT NULL,
        checksum_algorithm TEXT    NOT NULL,
        parent_hash        TEXT    NOT NULL,
        result_hash        TEXT    NOT NULL,
        status             TEXT    NOT NULL CHECK (status IN ('running', 'applied', 'failed', 'partially_applied')),
        steps_applied      INTEGER NOT NULL DEFAULT 0 CHECK (steps_applied >= 0),
        steps_total        INTEGER NOT NULL CHECK (steps_total >= 0),
        error              TEXT,
        failed_step        INTEGER,
        started_at         TEXT    NOT NULL,
        finished_at        TEXT,
        duration_ms        INTEGER,
        attempts           INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        tool_version       TEXT    NOT NULL,
        host               TEXT    NOT NULL,
        CHECK (steps_applied <= steps_total)
      ) STRICT`,
      `CREATE TABLE migration_steps (
        migration_id TEXT    NOT NULL REFERENCES migrations (id) ON DELETE CASCADE,
        step_index   INTEGER NOT NULL CHECK (step_index >= 0),
        status       TEXT    NOT NULL CHECK (status IN ('running', 'applied', 'failed')),
        statements   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(statements)),
        started_at   TEXT    NOT NULL,
        finished_at  TEXT,
        error        TEXT,
        PRIMARY KEY (migration_id, step_index)
      ) STRICT`,
      // At most one row: the CHECK pins the key, so a second holder can only ever
      // replace the row, never sit next to it.
      `CREATE TABLE migrate_lock (
        name        TEXT NOT NULL PRIMARY KEY CHECK (name = 'migrate'),
        owner       TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at  TEXT NOT NULL
      ) STRICT`,
    ],
  },
  {
    version: 2,
    description: "ledger_meta: what this file is (the mirror of a target's ledger)",
    statements: [
      `CREATE TABLE ledger_meta (
        key   TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT`,
    ],
  },
];

/** The schema version this build writes and understands. */
export const LEDGER_SCHEMA_VERSION: number = LEDGER_SCHEMA_STEPS[LEDGER_SCHEMA_STEPS.length - 1]?.version ?? 0;
