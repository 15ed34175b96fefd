/**
 * Raw iproto over real TCP for the differential tests: frames go out length-prefixed as they are,
 * replies come back as a comparable summary (type, sync, error message or data), so that our
 * server and a real Tarantool can be held to the same bytes without any client in between.
 */

import { connect as tcpConnect, type Socket } from 'node:net';
import { mapGet, type MpValue } from '../../core/codec/msgpack.ts';
import { decodeReply, isErrorReply, replyError } from '../../core/iproto/reply.ts';

/** A reply as the differential tests compare it. */
export interface Summary {
  readonly type: number;
  readonly sync: number | bigint;
  readonly message?: string;
  /** The error's type in the 2.4+ error stack (ClientError, ...). */
  readonly errorType?: MpValue;
  readonly data?: MpValue;
}

const GREETING_BYTES = 128;
const LENGTH_PREFIX_BYTES = 5;
const REPLY_TIMEOUT_MS = 10_000;

function lengthPrefixed(frame: Uint8Array): Buffer {
  const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  prefix[0] = 0xce;
  prefix.writeUInt32BE(frame.length, 1);
  return Buffer.concat([prefix, frame]);
}

function errorTypeOf(reply: { body: MpValue }): MpValue {
  const stack = mapGet(mapGet(reply.body, 0x52), 0x00);
  const top = Array.isArray(stack) ? (stack[0] as MpValue) : undefined;
  return mapGet(top, 0x00) ?? null;
}

function summarize(frame: Uint8Array): Summary {
  const reply = decodeReply(frame);
  if (reply === undefined) throw new Error(`undecodable reply ${Buffer.from(frame).toString('hex')}`);
  return isErrorReply(reply)
    ? { type: reply.type, sync: reply.sync, message: replyError(reply).message, errorType: errorTypeOf(reply) }
    : { type: reply.type, sync: reply.sync, data: mapGet(reply.body, 0x30) };
}

/**
 * One connection that sends a frame and waits for its reply before the next: a sequence of
 * requests then runs in the same order on any server, whatever it does with pipelined ones.
 */
export class RawSession {
  private buffer = Buffer.alloc(0);
  private greeted = false;
  private readonly waiting: Array<{ resolve: (reply: Summary) => void; reject: (error: Error) => void }> = [];
  private readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A server that closes the connection fails what is pending at once, not at the timeout.
    socket.on('close', () => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('connection closed'));
    });
  }

  static open(port: number): Promise<RawSession> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      const session = new RawSession(socket);
      socket.once('error', reject);
      // The greeting counts as the first reply.
      session.waiting.push({ resolve: () => resolve(session), reject });
    });
  }

  request(frame: Uint8Array): Promise<Summary> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), REPLY_TIMEOUT_MS);
      this.waiting.push({
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(lengthPrefixed(frame));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.greeted && this.buffer.length >= GREETING_BYTES) {
      this.buffer = this.buffer.subarray(GREETING_BYTES);
      this.greeted = true;
      this.waiting.shift()!.resolve({ type: 0, sync: 0 });
    }
    while (this.greeted && this.buffer.length >= LENGTH_PREFIX_BYTES) {
      const length = this.buffer.readUInt32BE(1);
      if (this.buffer.length < LENGTH_PREFIX_BYTES + length) return;
      const frame = new Uint8Array(this.buffer.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length));
      this.buffer = this.buffer.subarray(LENGTH_PREFIX_BYTES + length);
      const next = this.waiting.shift();
      if (next === undefined) throw new Error('a reply nobody asked for');
      next.resolve(summarize(frame));
    }
  }
}

/** Sends every frame at once on one connection (pipelined) and returns the replies in order. */
export function exchange(port: number, frames: readonly Uint8Array[]): Promise<Summary[]> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    let greeted = false;
    const replies: Summary[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${replies.length}/${frames.length} replies`)), REPLY_TIMEOUT_MS);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!greeted && buffer.length >= GREETING_BYTES) {
        buffer = buffer.subarray(GREETING_BYTES);
        greeted = true;
        for (const f of frames) socket.write(lengthPrefixed(f));
      }
      while (greeted && buffer.length >= LENGTH_PREFIX_BYTES && buffer.length >= LENGTH_PREFIX_BYTES + buffer.readUInt32BE(1)) {
        const length = buffer.readUInt32BE(1);
        replies.push(summarize(new Uint8Array(buffer.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length))));
        buffer = buffer.subarray(LENGTH_PREFIX_BYTES + length);
        if (replies.length === frames.length) {
          clearTimeout(timer);
          socket.destroy();
          resolve(replies);
        }
      }
    });
  });
}

/**
 * JSON.stringify replacer for summaries: bigints as `5n`, Maps (msgpack maps with non-string
 * keys) as their entries in order, so that two replies print alike only when they decode alike.
 */
export function forJson(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Map) return { map: [...value.entries()] };
  return value;
}
