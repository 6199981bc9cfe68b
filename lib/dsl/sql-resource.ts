import { register } from "./registry.js";
import type { Sql } from "./sql.js";

type SqlObject = { readonly kind: string; readonly name: string };

/**
 * Raw setup/teardown DDL (moose-lib's `SqlResource`). Accepted so moose-lib apps compile;
 * moose-migrate does not plan raw DDL: `moose plan` names each one it skips.
 */
export class SqlResource {
  readonly kind = "SqlResource" as const;
  readonly name: string;
  readonly setup: ReadonlyArray<string | Sql>;
  readonly teardown: ReadonlyArray<string | Sql>;
  readonly pullsDataFrom: readonly SqlObject[];
  readonly pushesDataTo: readonly SqlObject[];

  constructor(
    name: string,
    setup: ReadonlyArray<string | Sql>,
    teardown: ReadonlyArray<string | Sql>,
    options?: { readonly pullsDataFrom?: readonly SqlObject[]; readonly pushesDataTo?: readonly SqlObject[] },
  ) {
    this.name = name;
    this.setup = setup;
    this.teardown = teardown;
    this.pullsDataFrom = options?.pullsDataFrom ?? [];
    this.pushesDataTo = options?.pushesDataTo ?? [];
    register(this);
  }
}
