/**
 * What the iproto server needs from the node: the storage engine (box) for data requests, the
 * function registry (pico.*, .proc_*) for CALL, and the user table for AUTH. The server owns the
 * protocol (framing, validation, auth handshake, pipelining, reply encoding); the backend owns
 * every decision about data and access.
 *
 * Contract for every data method:
 * - it may return a value or a promise of one;
 * - requests of one connection start in arrival order (a synchronous backend therefore executes
 *   them in order), but replies are sent as each completes, so async methods may finish out of
 *   order; each reply carries its request's sync;
 * - to fail, throw (or reject with) an error that has a numeric `code` (a Tarantool error code,
 *   see ErrorCode and `iprotoError()`) and a `message`: the client receives exactly that code and
 *   message. Any other thrown value is reported as PROC_LUA (32) with its message, the way
 *   Tarantool reports a Lua `error()`;
 * - access control is the backend's: `session.user` is the authenticated user (`guest` until an
 *   AUTH succeeds); deny with ACCESS_DENIED (42).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type {
  CallRequest,
  DeleteRequest,
  EvalRequest,
  ExecuteRequest,
  InsertRequest,
  SelectRequest,
  UpdateRequest,
  UpsertRequest,
} from './request.ts';
import type { ExecuteResult } from './response.ts';

export type Awaitable<T> = T | Promise<T>;

/** Who is asking. */
export interface IprotoSession {
  /** Unique per server, increasing. */
  readonly id: number;
  /** The authenticated user; `guest` until AUTH succeeds. */
  readonly user: string;
  readonly peerAddress: string;
}

export interface UserCredentials {
  /**
   * The stored chap-sha1 hash, `base64(sha1(sha1(password)))` (what `_user` keeps); undefined
   * for a user without a password, who can only be authenticated to as guest with no scramble.
   */
  readonly chapSha1Hash: string | undefined;
}

export interface IprotoBackend {
  /**
   * Current schema version: stamped on every reply, and a request carrying a different non-zero
   * version is refused with WRONG_SCHEMA_VERSION (109) before it reaches the backend.
   */
  schemaVersion(): number;
  /**
   * The credentials of `user`, or undefined when no such user exists (AUTH then fails with
   * NO_SUCH_USER). Synchronous on purpose: requests pipelined behind an AUTH must run as the new
   * user, so the switch happens before the next frame is looked at.
   */
  credentials(user: string): UserCredentials | undefined;

  /** Tuples matching the request (iterator, key, offset, limit applied). */
  select(request: SelectRequest, session: IprotoSession): Awaitable<readonly MpValue[]>;
  /**
   * Optional fast path of `select` for an EQ select with no offset and a limit: when `key` is a
   * point lookup here (a full key of a unique index that holds one tuple per key), the matching
   * tuple or null, with the errors `select` would throw; undefined when it is not one, and then
   * the server calls `select`. Synchronous: it answers from memory or not at all.
   */
  selectPoint?(spaceId: number, indexId: number, key: MpValue[], session: IprotoSession): readonly MpValue[] | null | undefined;
  /** The inserted (or replacing) tuple. `request.kind` tells insert from replace. */
  insert(request: InsertRequest, session: IprotoSession): Awaitable<MpValue>;
  /** The updated tuple, or undefined when no tuple matched the key. */
  update(request: UpdateRequest, session: IprotoSession): Awaitable<MpValue | undefined>;
  /** The deleted tuple, or undefined when none matched. */
  delete(request: DeleteRequest, session: IprotoSession): Awaitable<MpValue | undefined>;
  /** UPSERT returns nothing (Tarantool replies with an empty data array). */
  upsert(request: UpsertRequest, session: IprotoSession): Awaitable<void>;
  /**
   * Calls a stored function. Returns its return values as a list (Lua multiple returns); the
   * server sends them verbatim for CALL and tuple-shaped for CALL_16 (`request.kind`). An unknown
   * function should fail with NO_SUCH_PROC (33).
   */
  call(request: CallRequest, session: IprotoSession): Awaitable<readonly MpValue[]>;
  /** Evaluates an expression (Lua in Tarantool); returns its return values. */
  eval(request: EvalRequest, session: IprotoSession): Awaitable<readonly MpValue[]>;
  /** Runs SQL; optional (without it EXECUTE answers UNSUPPORTED). */
  execute?(request: ExecuteRequest, session: IprotoSession): Awaitable<ExecuteResult>;
  /** Called once when a connection closes, so per-session state (transactions) can be dropped. */
  sessionClosed?(session: IprotoSession): void;
}
