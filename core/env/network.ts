/**
 * Connection-oriented, framed messaging: the shape of iproto over TCP.
 *
 * A frame is one iproto packet *without* its length prefix (header map + optional body map);
 * the transport adds and strips the length. A connection keeps TCP's guarantees while it lives:
 * frames arrive whole, once, in order, per direction. It loses them the way TCP does: a
 * partition blackholes it (frames vanish, nobody hears anything until a timeout) or resets it.
 */

import type { ReplyArena } from '../iproto/reply-arena.ts';

/** `host:port`. */
export type Address = string;

export type NetErrorCode =
  | 'ECONNREFUSED' // nothing listens there
  | 'ETIMEDOUT' // no answer within the connect timeout (partition, dead host)
  | 'EHOSTUNREACH' // unknown host
  | 'EADDRINUSE' // listen: address taken
  | 'EADDRNOTAVAIL' // listen: not this host's address
  | 'ECONNRESET'; // connection reset by the peer or the network

export class NetError extends Error {
  override readonly name = 'NetError';
  readonly code: NetErrorCode;
  constructor(code: NetErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export type CloseReason =
  | { readonly kind: 'local' } // this side called close()
  | { readonly kind: 'remote' } // the peer closed it, or its process exited
  | { readonly kind: 'reset'; readonly message: string } // network reset or failure
  | { readonly kind: 'protocol'; readonly message: string }; // malformed stream (bad length prefix, oversized frame)

export interface Connection {
  /** The other side's address as this side knows it. */
  readonly remoteAddress: Address;
  /**
   * Bytes the server sent before the first frame (iproto's 128-byte greeting); empty if the
   * listener sends none. Available on the client side when `connect` resolves.
   */
  readonly greeting: Uint8Array;
  readonly isClosed: boolean;
  /**
   * Queues a frame. Ownership of `frame` passes to the connection: do not mutate it afterwards.
   * Returns false (and drops the frame) if the connection is already closed.
   */
  send(frame: Uint8Array): boolean;
  /**
   * The connection's output arena, where it has one (the real network): a frame encoded and
   * committed there goes out like one given to `send`, in the same order, without a copy or a
   * frame object. Write nothing into it once the connection is closed.
   */
  readonly output?: ReplyArena;
  /** Sets the frame handler. Frames that arrive before a handler is set are buffered. */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /**
   * Where a connection has it (the real network): sets a frame handler that gets each frame
   * as bytes[start, end) of a larger buffer, without a view of its own; the bytes stay
   * unchanged for good. Use it instead of `onFrame`, not with it.
   */
  onFrameRange?(handler: (bytes: Uint8Array, start: number, end: number) => void): void;
  /** Sets the close handler; called exactly once. */
  onClose(handler: (reason: CloseReason) => void): void;
  close(): void;
}

export interface ListenOptions {
  /** Produces the bytes sent to each new connection before any frame (the iproto greeting). */
  readonly greeting?: () => Uint8Array;
}

export interface Listener {
  readonly address: Address;
  close(): void;
}

export interface ConnectOptions {
  /** Also the time to receive the greeting. */
  readonly timeoutMs?: number;
  /** Length of the greeting the server sends (128 for iproto); 0 when none. */
  readonly greetingBytes?: number;
}

export interface Network {
  /** Resolves once listening; rejects with NetError (EADDRINUSE, EADDRNOTAVAIL). */
  listen(address: Address, onConnection: (conn: Connection) => void, options?: ListenOptions): Promise<Listener>;
  /** Rejects with NetError (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ECONNRESET). */
  connect(address: Address, options?: ConnectOptions): Promise<Connection>;
}

/** Largest frame either side accepts; a bigger length prefix is a protocol error. */
export const FRAME_SIZE_BYTES_MAX = 64 * 1024 * 1024;
export const CONNECT_TIMEOUT_MS_DEFAULT = 2_000;
