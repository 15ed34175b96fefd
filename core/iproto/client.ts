/**
 * An iproto client over the env Network: reads the greeting, optionally authenticates with
 * chap-sha1, then pipelines requests (each tagged with a fresh sync; replies are matched by sync
 * in whatever order they come). Used by the node for inter-instance RPC
 * (`call('.proc_raft_join', ...)`) and by the `picodata connect/expel` CLIs.
 *
 * Every request resolves to a typed Result, never rejects: a server error keeps Tarantool's code
 * and message; a request that outlives its timeout fails with `timeout` (a late reply is dropped);
 * losing the connection fails every pending request with `closed`.
 */

import { mapGet, type MpValue } from '../codec/msgpack.ts';
import type { Clock } from '../env/clock.ts';
import { CONNECT_TIMEOUT_MS_DEFAULT, NetError, type Connection, type Network } from '../env/network.ts';
import { assert } from '../lib/assert.ts';
import { chapSha1Scramble } from '../lib/chap-sha1.ts';
import { BodyKey, ErrorCode, GREETING_BYTES, RequestType, SqlKey } from './constants.ts';
import { parseGreeting, type Greeting } from './greeting.ts';
import { decodeReply, isErrorReply, replyData, replyError, type Reply } from './reply.ts';
import { encodeAuthFrame, encodeRequestFrame, selectBody, type RequestBody, type SelectParams } from './request-encode.ts';
import type { ExecuteResult, SqlColumn } from './response.ts';

export const REQUEST_TIMEOUT_MS_DEFAULT = 10_000;
/** Requests one client keeps on the wire at once; more wait for a slot (their timeout runs). */
export const CLIENT_REQUESTS_IN_FLIGHT_MAX = 4096;

export type ClientError =
  | { readonly kind: 'server'; readonly code: number; readonly message: string }
  | { readonly kind: 'timeout'; readonly timeoutMs: number }
  | { readonly kind: 'closed'; readonly message: string };

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ClientError };

export interface IprotoClientEnv {
  readonly net: Network;
  readonly clock: Clock;
}

export interface IprotoClientOptions {
  /** Authenticate as this user after the greeting (needs `password`); guest otherwise. */
  readonly user?: string;
  readonly password?: string;
  readonly connectTimeoutMs?: number;
  /** Default per-request timeout. */
  readonly requestTimeoutMs?: number;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

interface Pending {
  readonly resolve: (result: Result<Reply>) => void;
}

export class IprotoClient {
  readonly greeting: Greeting;
  readonly address: string;
  private readonly connection: Connection;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  /** Requests waiting for an in-flight slot, oldest first. */
  private readonly waiting: Array<() => void> = [];
  private nextSync = 1;
  private closedMessage: string | null = null;
  private readonly closeHandlers: Array<(message: string) => void> = [];

  private constructor(env: IprotoClientEnv, address: string, connection: Connection, greeting: Greeting, requestTimeoutMs: number) {
    this.address = address;
    this.connection = connection;
    this.clock = env.clock;
    this.greeting = greeting;
    this.requestTimeoutMs = requestTimeoutMs;
    connection.onFrame((frame) => this.receive(frame));
    connection.onClose((reason) => this.closedBy(reason.kind === 'local' ? 'connection closed' : `connection lost (${reason.kind})`));
  }

  /** Connects, reads the greeting and authenticates if asked. Never rejects. */
  static async connect(env: IprotoClientEnv, address: string, options: IprotoClientOptions = {}): Promise<Result<IprotoClient>> {
    let connection: Connection;
    try {
      connection = await env.net.connect(address, {
        timeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
        greetingBytes: GREETING_BYTES,
      });
    } catch (error) {
      if (error instanceof NetError) return failure({ kind: 'closed', message: error.message });
      throw error;
    }
    const greeting = parseGreeting(connection.greeting);
    if (greeting === undefined || greeting.protocol !== 'Binary') {
      connection.close();
      return failure({ kind: 'closed', message: `${address} is not an iproto server (bad greeting)` });
    }
    const client = new IprotoClient(env, address, connection, greeting, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT);
    if (options.user !== undefined && options.password !== undefined) {
      const auth = await client.auth(options.user, options.password);
      if (!auth.ok) {
        client.close();
        return auth;
      }
    }
    return { ok: true, value: client };
  }

  get isClosed(): boolean {
    return this.closedMessage !== null;
  }

  get requestsPending(): number {
    return this.pending.size + this.waiting.length;
  }

  /** Called once when the connection ends (locally or not). */
  onClose(handler: (message: string) => void): void {
    if (this.closedMessage !== null) handler(this.closedMessage);
    else this.closeHandlers.push(handler);
  }

  close(): void {
    this.connection.close();
    this.closedBy('connection closed');
  }

  auth(user: string, password: string, options?: RequestOptions): Promise<Result<void>> {
    const scramble = chapSha1Scramble(this.greeting.salt, password);
    return this.send((sync) => encodeAuthFrame(sync, user, scramble), options).then((r) => mapOk(r, () => undefined));
  }

  ping(options?: RequestOptions): Promise<Result<void>> {
    return this.request(RequestType.PING, undefined, options).then((r) => mapOk(r, () => undefined));
  }

  /** CALL (1.7+): the function's return values, verbatim. */
  call(functionName: string, args: readonly MpValue[] = [], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([[BodyKey.FUNCTION_NAME, functionName], [BodyKey.TUPLE, args as MpValue[]]]);
    return this.request(RequestType.CALL, body, options).then((r) => mapOk(r, replyData));
  }

  /** CALL_16: the return values shaped into tuples. */
  call16(functionName: string, args: readonly MpValue[] = [], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([[BodyKey.FUNCTION_NAME, functionName], [BodyKey.TUPLE, args as MpValue[]]]);
    return this.request(RequestType.CALL_16, body, options).then((r) => mapOk(r, replyData));
  }

  eval(expr: string, args: readonly MpValue[] = [], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([[BodyKey.EXPR, expr], [BodyKey.TUPLE, args as MpValue[]]]);
    return this.request(RequestType.EVAL, body, options).then((r) => mapOk(r, replyData));
  }

  select(params: SelectParams, options?: RequestOptions): Promise<Result<MpValue[]>> {
    return this.request(RequestType.SELECT, selectBody(params), options).then((r) => mapOk(r, replyData));
  }

  insert(spaceId: number, tuple: readonly MpValue[], options?: RequestOptions): Promise<Result<MpValue[]>> {
    return this.tupleRequest(RequestType.INSERT, spaceId, tuple, options);
  }

  replace(spaceId: number, tuple: readonly MpValue[], options?: RequestOptions): Promise<Result<MpValue[]>> {
    return this.tupleRequest(RequestType.REPLACE, spaceId, tuple, options);
  }

  /** UPDATE; `ops` field numbers are 0-based (no INDEX_BASE sent). */
  update(spaceId: number, indexId: number, key: readonly MpValue[], ops: readonly MpValue[], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([
      [BodyKey.SPACE_ID, spaceId],
      [BodyKey.INDEX_ID, indexId],
      [BodyKey.KEY, key as MpValue[]],
      [BodyKey.TUPLE, ops as MpValue[]],
    ]);
    return this.request(RequestType.UPDATE, body, options).then((r) => mapOk(r, replyData));
  }

  delete(spaceId: number, indexId: number, key: readonly MpValue[], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([[BodyKey.SPACE_ID, spaceId], [BodyKey.INDEX_ID, indexId], [BodyKey.KEY, key as MpValue[]]]);
    return this.request(RequestType.DELETE, body, options).then((r) => mapOk(r, replyData));
  }

  upsert(spaceId: number, tuple: readonly MpValue[], ops: readonly MpValue[], options?: RequestOptions): Promise<Result<void>> {
    const body = new Map<number, MpValue>([[BodyKey.SPACE_ID, spaceId], [BodyKey.TUPLE, tuple as MpValue[]], [BodyKey.OPS, ops as MpValue[]]]);
    return this.request(RequestType.UPSERT, body, options).then((r) => mapOk(r, () => undefined));
  }

  execute(sql: string, bind: readonly MpValue[] = [], options?: RequestOptions): Promise<Result<ExecuteResult>> {
    const body = new Map<number, MpValue>([[BodyKey.SQL_TEXT, sql], [BodyKey.SQL_BIND, bind as MpValue[]]]);
    return this.request(RequestType.EXECUTE, body, options).then((r) => mapOk(r, executeResult));
  }

  /** Any request; the reply is returned raw (an error reply becomes a `server` error). */
  request(type: number, body: RequestBody | undefined, options?: RequestOptions): Promise<Result<Reply>> {
    return this.send((sync) => encodeRequestFrame(type, sync, body), options);
  }

  private tupleRequest(type: number, spaceId: number, tuple: readonly MpValue[], options?: RequestOptions): Promise<Result<MpValue[]>> {
    const body = new Map<number, MpValue>([[BodyKey.SPACE_ID, spaceId], [BodyKey.TUPLE, tuple as MpValue[]]]);
    return this.request(type, body, options).then((r) => mapOk(r, replyData));
  }

  private send(encode: (sync: number) => Uint8Array, options: RequestOptions | undefined): Promise<Result<Reply>> {
    const timeoutMs = options?.timeoutMs ?? this.requestTimeoutMs;
    assert(timeoutMs > 0, 'request timeout must be positive');
    return new Promise<Result<Reply>>((resolve) => {
      if (this.closedMessage !== null) return resolve(failure({ kind: 'closed', message: this.closedMessage }));
      let started = false;
      let done = false;
      const finish = (result: Result<Reply>): void => {
        if (done) return;
        done = true;
        cancelTimer();
        resolve(result);
      };
      const cancelTimer = this.clock.after(timeoutMs, () => {
        if (started) this.forget(sync);
        else {
          const at = this.waiting.indexOf(start);
          assert(at >= 0, 'a request not started is waiting');
          this.waiting.splice(at, 1);
        }
        finish(failure({ kind: 'timeout', timeoutMs }));
      });
      let sync = 0;
      const start = (): void => {
        started = true;
        sync = this.startRequest(encode, finish);
      };
      if (this.pending.size < CLIENT_REQUESTS_IN_FLIGHT_MAX) start();
      else this.waiting.push(start);
    });
  }

  /** Puts one request on the wire; returns its sync. */
  private startRequest(encode: (sync: number) => Uint8Array, finish: (result: Result<Reply>) => void): number {
    const sync = this.nextSync++;
    assert(!this.pending.has(sync), 'sync ids are unique');
    if (this.closedMessage !== null) {
      finish(failure({ kind: 'closed', message: this.closedMessage }));
      return sync;
    }
    this.pending.set(sync, { resolve: finish });
    this.connection.send(encode(sync));
    return sync;
  }

  /** Drops a pending request (timed out) and lets a waiting one take its slot. */
  private forget(sync: number): void {
    if (this.pending.delete(sync)) this.startWaiting();
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.pending.size < CLIENT_REQUESTS_IN_FLIGHT_MAX && this.closedMessage === null) {
      this.waiting.shift()!();
    }
  }

  private receive(frame: Uint8Array): void {
    const reply = decodeReply(frame);
    if (reply === undefined || typeof reply.sync !== 'number') {
      this.connection.close();
      this.closedBy('malformed reply from the server');
      return;
    }
    if (reply.type === RequestType.CHUNK) return; // box.session.push: not surfaced
    const pending = this.pending.get(reply.sync);
    if (pending === undefined) return; // timed out earlier
    this.pending.delete(reply.sync);
    if (isErrorReply(reply)) pending.resolve(failure({ kind: 'server', ...replyError(reply) }));
    else pending.resolve({ ok: true, value: reply });
    this.startWaiting();
  }

  private closedBy(message: string): void {
    if (this.closedMessage !== null) return;
    this.closedMessage = message;
    const pending = [...this.pending.values()];
    this.pending.clear();
    const waiting = this.waiting.splice(0);
    for (const p of pending) p.resolve(failure({ kind: 'closed', message }));
    for (const start of waiting) start(); // each fails at once: the client is closed
    for (const handler of this.closeHandlers.splice(0)) handler(message);
  }
}

function failure(error: ClientError): { ok: false; error: ClientError } {
  return { ok: false, error };
}

function mapOk<T>(result: Result<Reply>, map: (reply: Reply) => T): Result<T> {
  return result.ok ? { ok: true, value: map(result.value) } : result;
}

function executeResult(reply: Reply): ExecuteResult {
  const metadata = mapGet(reply.body, BodyKey.METADATA);
  if (Array.isArray(metadata)) {
    const columns: SqlColumn[] = metadata.map((column) => ({
      name: String(mapGet(column as MpValue, 0x00)),
      type: String(mapGet(column as MpValue, 0x01)),
    }));
    return { kind: 'rows', metadata: columns, rows: replyData(reply) as MpValue[][] };
  }
  const rowCount = mapGet(mapGet(reply.body, BodyKey.SQL_INFO), SqlKey.ROW_COUNT);
  return { kind: 'changed', rowCount: typeof rowCount === 'number' ? rowCount : 0 };
}

/** Unwraps a Result, throwing an Error with the code for callers that prefer exceptions. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const error = result.error;
  const text = error.kind === 'server' ? error.message : error.kind === 'timeout' ? `timeout after ${error.timeoutMs} ms` : error.message;
  throw Object.assign(new Error(text), { code: error.kind === 'server' ? error.code : ErrorCode.NO_CONNECTION, kind: error.kind });
}
