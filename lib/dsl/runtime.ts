/**
 * moose-lib's run-time helpers (database client, cache, Express middleware), as
 * type-compatible stubs. Apps import them from handlers, transforms and tasks;
 * planning reads the app without running it, so these only have to type-check.
 * Calling one throws an error naming it.
 *
 * @example
 * const { client } = await getMooseClients();
 * const rows = await (await client.query.execute<Row>(sql`SELECT * FROM ${events}`)).json();
 */
import { sql, typedPair, type Sql } from "./sql.js";

/** Throws: the named run-time helper cannot be used from moose-migrate yet. */
export function notAvailable(name: string): never {
  throw new Error(`${name} is run-time functionality of moose-lib that moose-migrate does not provide (yet); planning never calls it`);
}

/** JWT claims of the request, when it carried a verified token. */
export interface JWTPayload {
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly jti?: string;
  readonly [claim: string]: unknown;
}

/** A query's rows (`await result.json()`). */
export interface QueryResult<T> {
  json(): Promise<T[]>;
  text(): Promise<string>;
}

export interface QueryClient {
  execute<T = any>(query: Sql): Promise<QueryResult<T>>;
  command(query: Sql): Promise<unknown>;
}

export interface WorkflowClient {
  execute(name: string, input: unknown): Promise<{ status: number; body: string }>;
  terminate(workflowId: string): Promise<{ status: number; body: string }>;
}

/** moose-lib's database and workflow client. */
export interface MooseClient {
  readonly query: QueryClient;
  readonly workflow: WorkflowClient;
}

/** What API handlers receive besides their parameters (moose-lib's `MooseUtils`). */
export interface MooseUtils {
  readonly client: MooseClient;
  readonly sql: typeof sql;
  readonly jwt?: JWTPayload;
}
/** @deprecated moose-lib's older name for {@link MooseUtils}. */
export type ApiUtil = MooseUtils;
/** @deprecated moose-lib's older name for {@link MooseUtils}. */
export type ConsumptionUtil = MooseUtils;

/** Clients for code running outside an API handler (tasks, web apps). */
export function getMooseClients(_config?: Readonly<Record<string, unknown>>): Promise<{ client: MooseClient }> {
  return notAvailable("getMooseClients");
}

/** The utilities `expressMiddleware()` attached to a request. */
export function getMooseUtils(_request: unknown): MooseUtils | undefined {
  return notAvailable("getMooseUtils");
}

type Middleware = (req: any, res: any, next: (err?: unknown) => void) => void;

/** Express middleware attaching {@link MooseUtils} to each request. */
export function expressMiddleware(): Middleware {
  return notAvailable("expressMiddleware");
}

/** Express middleware checking `Authorization: Bearer <api key>`. */
export function expressApiKeyAuthMiddleware(_options?: Readonly<Record<string, unknown>>): Middleware {
  return notAvailable("expressApiKeyAuthMiddleware");
}

/** Express middleware logging requests as Moose does. */
export const mooseLogger: Middleware = () => notAvailable("mooseLogger");

/** Redis-backed cache (moose-lib's `MooseCache`). */
export class MooseCache {
  private constructor() {}

  static get(_keyPrefix?: string): Promise<MooseCache> {
    return notAvailable("MooseCache.get");
  }

  get<T>(_key: string): Promise<T | null> {
    return notAvailable("MooseCache#get");
  }

  set<T>(_key: string, _value: T, _ttlSeconds?: number): Promise<void> {
    return notAvailable("MooseCache#set");
  }

  delete(_key: string): Promise<void> {
    return notAvailable("MooseCache#delete");
  }

  clear(): Promise<void> {
    return notAvailable("MooseCache#clear");
  }
}

/**
 * moose-lib's `ApiHelpers`: a string bound as a parameter of type `Identifier`. API
 * handler queries refuse Identifier parameters (a request could name any table or
 * column); interpolate `table.columns[x]` after checking `x` (a string-literal union
 * parameter is checked for you).
 */
export const ApiHelpers = {
  column: (value: string): [string, string] => typedPair("Identifier", value),
  table: (value: string): [string, string] => typedPair("Identifier", value),
};
/** @deprecated moose-lib's older name for {@link ApiHelpers}. */
export const ConsumptionHelpers = ApiHelpers;
