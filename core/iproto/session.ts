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
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Connection } from '../env/network.ts';
import type { Log } from '../env/log.ts';
import { assert, unreachable } from '../lib/assert.ts';
import type { IprotoBackend, IprotoSession } from './backend.ts';
import { shapeCall16 } from './call16.ts';
import { chapSha1Check } from '../lib/chap-sha1.ts';
import { ErrorCode, GUEST_USER, SCRAMBLE_BYTES } from './constants.ts';
import { iprotoError, IprotoError, toIprotoError } from './errors.ts';
import { decodeRequest, type AuthRequest, type Request, type RequestHeader, type Sync } from './request.ts';
import { encodeDataReply, encodeErrorReply, encodeExecuteReply, encodeOkReply, type ExecuteResult } from './response.ts';

/** Requests of one connection being executed at once (Tarantool's net_msg_max defaults to 768). */
export const REQUESTS_IN_FLIGHT_MAX = 1024;
/** Frames a connection may queue behind the in-flight ones before it is cut off. */
export const QUEUED_FRAMES_MAX = 16 * 1024;
export const QUEUED_BYTES_MAX = 64 * 1024 * 1024;

/** A reply to send: either a ready frame or one still being computed. */
type Outcome = Uint8Array | Promise<Uint8Array>;

export class ServerSession implements IprotoSession {
  readonly id: number;
  readonly peerAddress: string;
  user: string = GUEST_USER;
  private readonly connection: Connection;
  private readonly backend: IprotoBackend;
  private readonly salt: Uint8Array;
  private readonly log: Log;
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
  }

  /** Starts serving: call once, right after the connection was accepted. */
  start(onClosed: () => void): void {
    this.connection.onFrame((frame) => this.receive(frame));
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

  private receive(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.inFlight < REQUESTS_IN_FLIGHT_MAX && this.queue.length === 0) {
      this.process(frame);
      return;
    }
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
      this.process(frame);
    }
    assert(this.queue.length > 0 || this.queuedBytes === 0, 'queued bytes must drop to zero with the queue');
  }

  private process(frame: Uint8Array): void {
    const decoded = decodeRequest(frame);
    if (!decoded.ok) {
      this.send(this.errorReply(decoded.sync, decoded.error));
      return;
    }
    const { header, request } = decoded;
    let outcome: Outcome;
    try {
      outcome = this.dispatch(header, request);
    } catch (error) {
      outcome = this.errorReply(header.sync, this.asReplyError(error, request.kind));
    }
    if (outcome instanceof Uint8Array) {
      this.send(outcome);
      return;
    }
    this.inFlight++;
    outcome
      .catch((error: unknown) => this.errorReply(header.sync, this.asReplyError(error, request.kind)))
      .then((reply) => {
        this.inFlight--;
        this.send(reply);
        this.drain();
      })
      .catch((error: unknown) => this.log.error('iproto reply failed', { error: String(error) }));
  }

  private send(reply: Uint8Array): void {
    if (!this.closed) this.connection.send(reply);
  }

  /** Executes one decoded request; throws or rejects with the error to answer. */
  private dispatch(header: RequestHeader, request: Request): Outcome {
    const sync = header.sync;
    if (request.kind === 'auth') return this.authenticate(sync, request);
    const current = this.backend.schemaVersion();
    if (header.schemaVersion !== 0 && header.schemaVersion !== current) {
      // Tarantool passes the request's version where its template says "current" (and vice
      // versa); connectors and tests see that text, so it is kept.
      throw iprotoError(ErrorCode.WRONG_SCHEMA_VERSION, header.schemaVersion, current);
    }
    switch (request.kind) {
      case 'ping':
        return encodeOkReply(sync, current);
      case 'select':
        return this.data(sync, this.backend.select(request, this), (tuples) => tuples);
      case 'insert':
      case 'replace':
        return this.data(sync, this.backend.insert(request, this), (tuple) => [tuple]);
      case 'update':
        return this.data(sync, this.backend.update(request, this), optionalTuple);
      case 'delete':
        return this.data(sync, this.backend.delete(request, this), optionalTuple);
      case 'upsert':
        return this.data(sync, this.backend.upsert(request, this), () => []);
      case 'call':
        return this.data(sync, this.backend.call(request, this), (values) => values);
      case 'call16':
        return this.data(sync, this.backend.call(request, this), shapeCall16);
      case 'eval':
        return this.data(sync, this.backend.eval(request, this), (values) => values);
      case 'execute':
        if (this.backend.execute === undefined) throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, header.type);
        return this.executeReply(sync, this.backend.execute(request, this));
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

  /** Encodes a backend result as a data reply, now if it is ready, later if it is a promise. */
  private data<T>(sync: Sync, result: T | Promise<T>, toValues: (value: T) => readonly MpValue[]): Outcome {
    const encode = (value: T): Uint8Array => encodeDataReply(sync, this.backend.schemaVersion(), toValues(value));
    return result instanceof Promise ? result.then(encode) : encode(result);
  }

  private executeReply(sync: Sync, result: ExecuteResult | Promise<ExecuteResult>): Outcome {
    const encode = (value: ExecuteResult): Uint8Array => encodeExecuteReply(sync, this.backend.schemaVersion(), value);
    return result instanceof Promise ? result.then(encode) : encode(result);
  }

  /**
   * chap-sha1 (src/box/authentication.cc): an unknown user is NO_SUCH_USER; an empty tuple
   * switches back to guest; a scramble that does not prove the stored hash is PASSWORD_MISMATCH.
   * On failure the session keeps its previous user.
   */
  private authenticate(sync: Sync, request: AuthRequest): Uint8Array {
    const credentials = this.backend.credentials(request.user);
    if (credentials === undefined) throw iprotoError(ErrorCode.NO_SUCH_USER, request.user);
    if (request.partCount === 0 && request.user === GUEST_USER) {
      this.user = GUEST_USER;
      return encodeOkReply(sync, this.backend.schemaVersion());
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
    return encodeOkReply(sync, this.backend.schemaVersion());
  }

  private errorReply(sync: Sync, error: IprotoError): Uint8Array {
    let schemaVersion = 0;
    this.guard('schemaVersion', () => (schemaVersion = this.backend.schemaVersion()));
    return encodeErrorReply(sync, schemaVersion, error);
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

function optionalTuple(tuple: MpValue | undefined): readonly MpValue[] {
  return tuple === undefined ? [] : [tuple];
}
