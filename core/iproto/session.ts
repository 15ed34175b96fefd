/**
 * One client connection on the server side: authentication state, request dispatch to the
 * backend, pipelining and backpressure.
 *
 * - Requests start in arrival order. A request whose backend method returns a plain value is
 *   answered at once; one that returns a promise is answered when it settles, so replies may go
 *   out of order, each with its request's sync.
 * - At most REQUESTS_IN_FLIGHT_MAX requests run at once per connection; further frames wait in a
 *   queue (Tarantool's net_msg_max does the same by not reading the socket). A client that keeps
 *   sending while the queue is full (QUEUED_FRAMES_MAX / QUEUED_BYTES_MAX) is cut off: the
 *   Connection cannot stop reading, so the queue is the only place to bound its memory.
 * - Nothing throws out of the frame handler: a malformed request gets an error reply, a failure of
 *   our own code is logged and answered as an error, and the connection stays usable.
 * - A point select (EQ on a full unique key: what connectors send for `get`, and for `select`
 *   by a primary key) that the backend can answer from its index (`selectPoint`) is answered from
 *   the decoder's SelectFrame, without request, options and result objects; every other select
 *   takes the general route, with the same replies (test/iproto/point-select.test.ts).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Connection } from '../env/network.ts';
import type { Log } from '../env/log.ts';
import { assert, unreachable } from '../lib/assert.ts';
import type { IprotoBackend, IprotoSession } from './backend.ts';
import { shapeCall16 } from './call16.ts';
import { chapSha1Check } from '../lib/chap-sha1.ts';
import { ErrorCode, GUEST_USER, Iterator, SCRAMBLE_BYTES } from './constants.ts';
import { iprotoError, IprotoError, toIprotoError } from './errors.ts';
import { decodeRequestGeneral, type AuthRequest, type Request, type RequestHeader, type RequestKind, type Sync } from './request.ts';
import { decodeFrameFast, SelectFrame } from './request-fast.ts';
import { replyArena, type ReplyArena } from './reply-arena.ts';
import { writeDataReply, writeErrorReply, writeExecuteReply, writeOkReply, writeTupleReply, type ExecuteResult } from './response.ts';

/** Requests of one connection being executed at once (Tarantool's net_msg_max defaults to 768). */
export const REQUESTS_IN_FLIGHT_MAX = 1024;
/** Frames a connection may queue behind the in-flight ones before it is cut off. */
export const QUEUED_FRAMES_MAX = 16 * 1024;
export const QUEUED_BYTES_MAX = 64 * 1024 * 1024;

/**
 * How a backend result becomes a reply body: a list sent as is (SELECT, CALL, EVAL), one tuple
 * (INSERT, REPLACE), a tuple or none (UPDATE, DELETE), nothing (UPSERT), CALL_16's tuple
 * shaping, or an SQL result.
 */
type ResultShape = 'list' | 'tuple' | 'optionalTuple' | 'none' | 'call16' | 'execute';

export class ServerSession implements IprotoSession {
  readonly id: number;
  readonly peerAddress: string;
  user: string = GUEST_USER;
  private readonly connection: Connection;
  private readonly backend: IprotoBackend;
  private readonly salt: Uint8Array;
  private readonly log: Log;
  /** Where replies are encoded: the connection's output arena, or the shared arena for `send`. */
  private readonly out: ReplyArena;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private closed = false;

  constructor(id: number, connection: Connection, backend: IprotoBackend, salt: Uint8Array, log: Log) {
    this.id = id;
    this.connection = connection;
    this.peerAddress = connection.remoteAddress;
    this.backend = backend;
    this.salt = salt;
    this.log = log;
    this.out = connection.output ?? replyArena;
  }

  /** Starts serving: call once, right after the connection was accepted. */
  start(onClosed: () => void): void {
    if (this.connection.onFrameRange !== undefined) this.connection.onFrameRange((bytes, start, end) => this.receive(bytes, start, end));
    else this.connection.onFrame((frame) => this.receive(frame, 0, frame.length));
    this.connection.onClose(() => {
      this.closed = true;
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.guard('sessionClosed', () => this.backend.sessionClosed?.(this));
      onClosed();
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  close(): void {
    this.connection.close();
  }

  /** The frame bytes[start, end). */
  private receive(bytes: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    if (this.inFlight < REQUESTS_IN_FLIGHT_MAX && this.queue.length === 0) {
      this.process(bytes, start, end);
      return;
    }
    const frame = bytes.subarray(start, end);
    if (this.queue.length >= QUEUED_FRAMES_MAX || this.queuedBytes + frame.length > QUEUED_BYTES_MAX) {
      this.log.warn('iproto client overruns its request queue, closing', { peer: this.peerAddress, queued: this.queue.length });
      this.close();
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
  }

  private drain(): void {
    while (!this.closed && this.inFlight < REQUESTS_IN_FLIGHT_MAX && this.queue.length > 0) {
      const frame = this.queue.shift()!;
      this.queuedBytes -= frame.length;
      this.process(frame, 0, frame.length);
    }
    assert(this.queue.length > 0 || this.queuedBytes === 0, 'queued bytes must drop to zero with the queue');
  }

  private process(bytes: Uint8Array, start: number, end: number): void {
    const fast = decodeFrameFast(bytes, start, end);
    if (fast instanceof SelectFrame) {
      this.processSelect(fast);
      return;
    }
    const decoded = fast ?? decodeRequestGeneral(bytes.subarray(start, end));
    if (!decoded.ok) {
      this.replyError(decoded.sync, decoded.error);
      return;
    }
    const { header, request } = decoded;
    try {
      this.dispatch(header, request);
    } catch (error) {
      this.replyError(header.sync, this.asReplyError(error, request.kind));
    }
  }

  /** A SELECT from the fast decoder: a point lookup answered at once, or the general route. */
  private processSelect(frame: SelectFrame): void {
    try {
      const tuple = this.selectPoint(frame);
      if (tuple === undefined) this.dispatch(frame.header(), frame.request());
      else this.replyResult(frame.sync, 'optionalTuple', tuple ?? undefined);
    } catch (error) {
      this.replyError(frame.sync, this.asReplyError(error, 'select'));
    }
  }

  /**
   * The tuple (or null for none) of a select that is a point lookup the backend answers from its
   * index; undefined when it is not one (other iterators, an offset, no limit, a stale schema
   * version, which `dispatch` refuses, or a lookup the backend does not answer).
   */
  private selectPoint(frame: SelectFrame): readonly MpValue[] | null | undefined {
    const backend = this.backend;
    if (backend.selectPoint === undefined || frame.iterator !== Iterator.EQ || frame.offset !== 0 || frame.limit === 0) return undefined;
    if (frame.schemaVersion !== 0 && frame.schemaVersion !== backend.schemaVersion()) return undefined;
    return backend.selectPoint(frame.spaceId, frame.indexId, frame.key, this);
  }

  /**
   * Sends the frame just written into `out` (begun by a write* function of response.ts): in
   * place in the connection's output arena, or as a view of the shared one.
   */
  private endReply(): void {
    const out = this.out;
    if (out.isOutput) out.commit();
    else this.connection.send(out.finish());
  }

  /**
   * Executes one decoded request: replies at once when the backend answered at once, or when
   * the answer (a promise) settles (see `awaitResult`). Throws the error to answer.
   */
  private dispatch(header: RequestHeader, request: Request): void {
    const sync = header.sync;
    if (request.kind === 'auth') {
      this.authenticate(sync, request);
      return;
    }
    const current = this.backend.schemaVersion();
    if (header.schemaVersion !== 0 && header.schemaVersion !== current) {
      // Tarantool passes the request's version where its template says "current" (and vice
      // versa); connectors and tests see that text, so it is kept.
      throw iprotoError(ErrorCode.WRONG_SCHEMA_VERSION, header.schemaVersion, current);
    }
    switch (request.kind) {
      case 'ping':
        return this.replyOk(sync, current);
      case 'select':
        return this.result(sync, request.kind, 'list', this.backend.select(request, this));
      case 'insert':
      case 'replace':
        return this.result(sync, request.kind, 'tuple', this.backend.insert(request, this));
      case 'update':
        return this.result(sync, request.kind, 'optionalTuple', this.backend.update(request, this));
      case 'delete':
        return this.result(sync, request.kind, 'optionalTuple', this.backend.delete(request, this));
      case 'upsert':
        return this.result(sync, request.kind, 'none', this.backend.upsert(request, this));
      case 'call':
        return this.result(sync, request.kind, 'list', this.backend.call(request, this));
      case 'call16':
        return this.result(sync, request.kind, 'call16', this.backend.call(request, this));
      case 'eval':
        return this.result(sync, request.kind, 'list', this.backend.eval(request, this));
      case 'execute':
        if (this.backend.execute === undefined) throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, header.type);
        return this.result(sync, request.kind, 'execute', this.backend.execute(request, this));
      case 'prepare':
      case 'nop':
      case 'id':
      case 'begin':
      case 'commit':
      case 'rollback':
        // Not served to clients by the 1.10 protocol this server announces (NOP is replication
        // only; no SQL statement cache, no streams), and Tarantool 2.6 answers the same way.
        // "Unknown request type" to ID is also what makes net.box 2.10+ fall back to 1.10 mode.
        throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, header.type);
      default:
        return unreachable(request);
    }
  }

  /** A backend result as a reply now, or (a promise) later through `awaitResult`. */
  private result(sync: Sync, kind: RequestKind, shape: ResultShape, result: unknown): void {
    if (result instanceof Promise) this.awaitResult(sync, kind, shape, result);
    else this.replyResult(sync, shape, result);
  }

  /** Replies with a backend result (already awaited); throws if it cannot be encoded. */
  private replyResult(sync: Sync, shape: ResultShape, value: unknown): void {
    if (this.closed) return;
    writeResult(this.out, sync, this.backend.schemaVersion(), shape, value);
    this.endReply();
  }

  private replyOk(sync: Sync, schemaVersion: number): void {
    if (this.closed) return;
    writeOkReply(this.out, sync, schemaVersion);
    this.endReply();
  }

  /** Never throws: the error reply itself cannot fail to encode. */
  private replyError(sync: Sync, error: IprotoError): void {
    if (this.closed) return;
    let schemaVersion = 0;
    this.guard('schemaVersion', () => (schemaVersion = this.backend.schemaVersion()));
    writeErrorReply(this.out, sync, schemaVersion, error);
    this.endReply();
  }

  /**
   * Answers a request when its promise settles: one reaction per request, no promise chain. The
   * request counts as in flight until then, which is what bounds a connection's concurrency.
   */
  private awaitResult(sync: Sync, kind: RequestKind, shape: ResultShape, result: Promise<unknown>): void {
    this.inFlight++;
    result.then(
      (value) => this.settled(sync, kind, shape, value, undefined),
      (error: unknown) => this.settled(sync, kind, shape, undefined, { error }),
    );
  }

  /** Never throws: it runs as a promise reaction, where a throw would be an unhandled rejection. */
  private settled(sync: Sync, kind: RequestKind, shape: ResultShape, value: unknown, failure: { error: unknown } | undefined): void {
    try {
      this.inFlight--;
      try {
        if (failure !== undefined) throw failure.error;
        this.replyResult(sync, shape, value);
      } catch (error) {
        this.replyError(sync, this.asReplyError(error, kind));
      }
      this.drain();
    } catch (error) {
      this.log.error('iproto reply failed', { error: String(error) });
    }
  }

  /**
   * chap-sha1 (src/box/authentication.cc): an unknown user is NO_SUCH_USER; an empty tuple
   * switches back to guest; a scramble that does not prove the stored hash is PASSWORD_MISMATCH.
   * On failure the session keeps its previous user.
   */
  private authenticate(sync: Sync, request: AuthRequest): void {
    const credentials = this.backend.credentials(request.user);
    if (credentials === undefined) throw iprotoError(ErrorCode.NO_SUCH_USER, request.user);
    if (request.partCount === 0 && request.user === GUEST_USER) {
      this.user = GUEST_USER;
      this.replyOk(sync, this.backend.schemaVersion());
      return;
    }
    if (request.partCount < 2 || request.scramble === undefined) {
      throw iprotoError(ErrorCode.INVALID_MSGPACK, 'authentication request body');
    }
    if (request.scramble.length !== SCRAMBLE_BYTES) throw iprotoError(ErrorCode.INVALID_MSGPACK, 'invalid scramble size');
    const hash = credentials.chapSha1Hash;
    if (hash === undefined || !chapSha1Check(this.salt, request.scramble, hash)) {
      throw iprotoError(ErrorCode.PASSWORD_MISMATCH, request.user);
    }
    this.user = request.user;
    this.replyOk(sync, this.backend.schemaVersion());
  }

  private asReplyError(error: unknown, kind: string): IprotoError {
    const converted = toIprotoError(error);
    if (!(error instanceof IprotoError) && error instanceof Error && error.name === 'AssertionError') {
      this.log.error('iproto request failed an assertion', { kind, error: error.message });
    }
    return converted;
  }

  /** Runs a backend hook whose failure must not break the connection; logs it instead. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error('iproto backend hook threw', { hook: what, error: String(error) });
    }
  }
}

/** Writes a backend result (already awaited) with the reply body its request kind takes. */
function writeResult(w: ReplyArena, sync: Sync, schemaVersion: number, shape: ResultShape, value: unknown): void {
  switch (shape) {
    case 'list':
      return writeDataReply(w, sync, schemaVersion, value as readonly MpValue[]);
    case 'tuple':
      return writeTupleReply(w, sync, schemaVersion, value as MpValue, false);
    case 'optionalTuple':
      return writeTupleReply(w, sync, schemaVersion, value as MpValue | undefined, true);
    case 'none':
      return writeDataReply(w, sync, schemaVersion, []);
    case 'call16':
      return writeDataReply(w, sync, schemaVersion, shapeCall16(value as readonly MpValue[]));
    case 'execute':
      return writeExecuteReply(w, sync, schemaVersion, value as ExecuteResult);
    default:
      return unreachable(shape);
  }
}
