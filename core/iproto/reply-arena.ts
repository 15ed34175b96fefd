/**
 * Where reply frames are encoded: bump-allocated arenas. A frame is written at the arena's end,
 * and its bytes are never written again (the next frame starts after them; a full arena is
 * dropped for a fresh one and lives on only as long as something refers to its bytes). There are
 * two kinds:
 *
 * - the shared arena (`replyArena`), for connections that take frames through `send` (the
 *   simulator's): a frame is handed out as a view, so it costs one view object and no per-reply
 *   writer, buffer, DataView or copy;
 * - a connection's output arena (`ReplyArena.output`, the real network's): every frame starts
 *   with its `ce u32` length prefix, and `commit` ends it without making a view. The connection
 *   takes the committed frames as one view per arena (`takeCommitted`) and writes them as they
 *   are: no view, copy or list entry per reply, and a write that the socket queues keeps
 *   referring to bytes that do not change. An output arena allocates nothing until its first
 *   frame, starts at OUTPUT_ARENA_FIRST_BYTES and doubles up to REPLY_ARENA_BYTES as it fills,
 *   so an idle connection holds little; one grown past that for a large frame is dropped once
 *   its frames are taken.
 *
 * Values are encoded byte for byte as core/codec MpWriter encodes them (smallest integer forms,
 * -0 and non-integers as float64, ASCII strings written directly); the kinds a reply rarely
 * carries (maps, binary, extensions, bigints, non-ASCII strings) are encoded by an MpWriter and
 * copied, so the two can never disagree on them.
 */

import { MpWriter, MsgpackError, MSGPACK_DEPTH_MAX, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { REPLY_HEADER_FRAME_BYTES } from './constants.ts';

/**
 * Size of a fresh shared arena, and the most an output arena doubles to. A frame that does not
 * fit gets a larger arena of its own.
 */
export const REPLY_ARENA_BYTES = 64 * 1024;
/** The first size of an output arena. */
export const OUTPUT_ARENA_FIRST_BYTES = 4 * 1024;
/** The transport's length prefix of a frame, `ce` + u32, written by output arenas. */
export const LENGTH_PREFIX_BYTES = 5;

const NO_BYTES = new Uint8Array(0);

export class ReplyArena {
  private buffer: Uint8Array;
  /** `buffer.buffer`, kept: the getter is a call into the runtime, and finish() needs it per frame. */
  private arrayBuffer: ArrayBufferLike;
  private view: DataView;
  /** Start of the frame being written; -1 when none is. */
  private start = -1;
  /** Write position: the end of the frame being written, or the arena's first free byte. */
  private at = 0;
  /** Encodes what the direct paths do not (see the module comment); reused, never shared out. */
  private readonly fallback = new MpWriter(256);
  /** LENGTH_PREFIX_BYTES for an output arena, 0 for one that hands frames out as views. */
  private readonly prefixBytes: number;
  /** Output arenas: called after each commit (the connection counts frames and flushes). */
  private readonly onCommit: (() => void) | null;
  /** Output arenas: the first committed byte not yet taken, and frames committed since. */
  private committedFrom = 0;
  private committedFrames = 0;
  /** Output arenas: committed runs of arenas that were replaced before they were taken. */
  private retired: Uint8Array[] = [];
  private retiredBytes = 0;

  /** The size of the first buffer, and the least of any later one. */
  private readonly firstBytes: number;

  constructor(arenaBytes: number = REPLY_ARENA_BYTES, onCommit: (() => void) | null = null) {
    assert(Number.isInteger(arenaBytes) && arenaBytes >= 64 && arenaBytes <= REPLY_ARENA_BYTES, 'reply arena size');
    this.firstBytes = arenaBytes;
    this.onCommit = onCommit;
    this.prefixBytes = onCommit === null ? 0 : LENGTH_PREFIX_BYTES;
    // An output arena allocates at its first frame (a connection that never sends holds nothing).
    this.buffer = onCommit === null ? new Uint8Array(arenaBytes) : NO_BYTES;
    this.arrayBuffer = this.buffer.buffer;
    this.view = new DataView(this.arrayBuffer);
  }

  /** A connection's output arena (see the module comment); `onCommit` runs after every commit. */
  static output(onCommit: () => void, firstBytes: number = OUTPUT_ARENA_FIRST_BYTES): ReplyArena {
    return new ReplyArena(firstBytes, onCommit);
  }

  get isOutput(): boolean {
    return this.onCommit !== null;
  }

  /** Starts a frame. Every begin is followed by exactly one finish (or commit) or abandon. */
  begin(): void {
    assert(this.start < 0, 'a reply frame is already being written');
    this.start = this.at;
    if (this.prefixBytes > 0) {
      this.ensure(this.prefixBytes);
      this.at += this.prefixBytes;
    }
  }

  /** The frame written since begin: a view that stays valid and unchanged for good. */
  finish(): Uint8Array {
    assert(this.start >= 0, 'no reply frame is being written');
    assert(this.prefixBytes === 0, 'an output arena commits its frames');
    const frame = new Uint8Array(this.arrayBuffer, this.start, this.at - this.start);
    this.start = -1;
    return frame;
  }

  /** Ends the frame written since begin in an output arena: its length prefix goes in front. */
  commit(): void {
    assert(this.start >= 0, 'no reply frame is being written');
    assert(this.prefixBytes > 0, 'only an output arena commits frames');
    const start = this.start;
    this.buffer[start] = 0xce;
    this.view.setUint32(start + 1, this.at - start - LENGTH_PREFIX_BYTES);
    this.start = -1;
    this.committedFrames++;
    this.onCommit!();
  }

  /** Copies a finished frame (from elsewhere) into an output arena and commits it. */
  appendFrame(frame: Uint8Array): void {
    this.begin();
    this.ensure(frame.length);
    this.buffer.set(frame, this.at);
    this.at += frame.length;
    this.commit();
  }

  /** The size of the buffer being written into (the memory the arena holds beyond its views). */
  get capacityBytes(): number {
    return this.buffer.length;
  }

  /** Frames committed and not yet taken. */
  get pendingFrames(): number {
    return this.committedFrames;
  }

  /** Bytes (prefixes included) committed and not yet taken. */
  get pendingBytes(): number {
    return this.retiredBytes + this.committedEnd() - this.committedFrom;
  }

  /**
   * The committed frames not yet taken, prefixed and back to back: one view per arena they
   * span (usually one), in order. The bytes stay unchanged for good.
   */
  takeCommitted(): Uint8Array[] {
    const end = this.committedEnd();
    const runs = this.retired;
    if (end > this.committedFrom) runs.push(new Uint8Array(this.arrayBuffer, this.committedFrom, end - this.committedFrom));
    this.retired = [];
    this.retiredBytes = 0;
    this.committedFrom = end;
    this.committedFrames = 0;
    // A buffer grown for a large frame is not kept for the small ones that follow.
    if (this.start < 0 && this.buffer.length > REPLY_ARENA_BYTES) this.replaceBuffer(NO_BYTES);
    return runs;
  }

  /** The end of the committed bytes: the frame being written, if any, is not. */
  private committedEnd(): number {
    return this.start >= 0 ? this.start : this.at;
  }

  /**
   * Begins a frame with the fixed 23-byte reply header (after the transport's length prefix):
   * `83 00 ce code32 01 cf sync64 05 ce schema32`, the sync given as its two 32-bit halves.
   */
  beginReply(code: number, syncHigh: number, syncLow: number, schemaVersion: number): void {
    this.begin();
    this.ensure(REPLY_HEADER_FRAME_BYTES);
    const b = this.buffer;
    const v = this.view;
    const at = this.at;
    b[at] = 0x83;
    b[at + 1] = 0x00;
    b[at + 2] = 0xce;
    v.setUint32(at + 3, code);
    b[at + 7] = 0x01;
    b[at + 8] = 0xcf;
    v.setUint32(at + 9, syncHigh);
    v.setUint32(at + 13, syncLow);
    b[at + 17] = 0x05;
    b[at + 18] = 0xce;
    v.setUint32(at + 19, schemaVersion);
    this.at = at + REPLY_HEADER_FRAME_BYTES;
  }

  /** `81 30 dd n32`: a body holding only IPROTO_DATA, an array32 of `count` values to follow. */
  dataHeader(count: number): void {
    this.ensure(7);
    const b = this.buffer;
    const at = this.at;
    b[at] = 0x81;
    b[at + 1] = 0x30;
    b[at + 2] = 0xdd;
    this.view.setUint32(at + 3, count);
    this.at = at + 7;
  }

  /** Drops the frame being written (its encoding failed); its bytes are reused by the next one. */
  abandon(): void {
    if (this.start < 0) return;
    this.at = this.start;
    this.start = -1;
  }

  /** Bytes written since begin (after the length prefix, in an output arena). */
  get length(): number {
    return this.at - this.start - this.prefixBytes;
  }

  private ensure(extraBytes: number): void {
    if (this.at + extraBytes > this.buffer.length) this.grow(extraBytes);
  }

  /**
   * Moves the frame being written to a fresh arena with room for `extraBytes` more: twice the
   * size of the last one (the first size at first) up to REPLY_ARENA_BYTES, or more if the frame
   * needs it.
   */
  private grow(extraBytes: number): void {
    assert(this.start >= 0, 'writes happen between begin and finish');
    const used = this.at - this.start;
    let capacity = this.buffer.length === 0 ? this.firstBytes : Math.min(REPLY_ARENA_BYTES, Math.max(this.firstBytes, 2 * this.buffer.length));
    while (capacity < 2 * (used + extraBytes)) capacity *= 2;
    if (this.prefixBytes > 0 && this.start > this.committedFrom) {
      // An output arena's committed frames stay where they are until the connection takes them.
      const run = new Uint8Array(this.arrayBuffer, this.committedFrom, this.start - this.committedFrom);
      this.retired.push(run);
      this.retiredBytes += run.length;
    }
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(this.start, this.at));
    this.replaceBuffer(next);
    this.start = 0;
    this.at = used;
  }

  /** Writing goes on in `buffer` from its start; whatever was in the old one is left to its views. */
  private replaceBuffer(buffer: Uint8Array): void {
    this.buffer = buffer;
    this.arrayBuffer = buffer.buffer;
    this.view = new DataView(this.arrayBuffer);
    this.committedFrom = 0;
    this.at = 0;
  }

  u8(byte: number): void {
    this.ensure(1);
    this.buffer[this.at++] = byte;
  }

  /** A big-endian uint32 without a type byte. */
  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.at, value);
    this.at += 4;
  }

  /** `ce` + uint32: the fixed-width uint the reply header uses whatever the value. */
  u32Fixed(value: number): void {
    this.ensure(5);
    this.buffer[this.at] = 0xce;
    this.view.setUint32(this.at + 1, value);
    this.at += 5;
  }

  mapHeader(count: number): void {
    this.ensure(5);
    if (count < 16) {
      this.buffer[this.at++] = 0x80 | count;
    } else if (count < 0x10000) {
      this.buffer[this.at] = 0xde;
      this.view.setUint16(this.at + 1, count);
      this.at += 3;
    } else {
      this.buffer[this.at] = 0xdf;
      this.view.setUint32(this.at + 1, count);
      this.at += 5;
    }
  }

  arrayHeader(count: number): void {
    this.ensure(5);
    if (count < 16) {
      this.buffer[this.at++] = 0x90 | count;
    } else if (count < 0x10000) {
      this.buffer[this.at] = 0xdc;
      this.view.setUint16(this.at + 1, count);
      this.at += 3;
    } else {
      this.buffer[this.at] = 0xdd;
      this.view.setUint32(this.at + 1, count);
      this.at += 5;
    }
  }

  /**
   * Any msgpack value, as MpWriter#value encodes it (same bytes, same errors). Tests of `typeof`
   * rather than a switch on it: V8 turns `typeof x === 'number'` into a type check, but computes
   * the string, in a builtin call, for a switch.
   */
  value(value: MpValue, depth = 0): void {
    if (depth > MSGPACK_DEPTH_MAX) throw new MsgpackError('value nested too deeply');
    if (typeof value === 'number') return this.number(value);
    if (typeof value === 'string') return this.str(value);
    if (typeof value === 'boolean') return this.u8(value ? 0xc3 : 0xc2);
    if (value === undefined || value === null) return this.u8(0xc0);
    if (Array.isArray(value)) return this.array(value as readonly MpValue[], depth);
    return this.viaFallback(value, depth);
  }

  private array(items: readonly MpValue[], depth: number): void {
    this.arrayHeader(items.length);
    if (items.length > 0 && depth >= MSGPACK_DEPTH_MAX) throw new MsgpackError('value nested too deeply');
    for (let i = 0; i < items.length; i++) {
      // Tuple fields are mostly numbers and strings: written without the recursion through
      // `value` (the depth check above is the one `value` would make for them).
      const item = items[i];
      if (typeof item === 'number') this.number(item);
      else if (typeof item === 'string') this.str(item);
      else this.value(item, depth + 1);
    }
  }

  /** MpWriter#number: safe integers (but -0) in the smallest integer form, the rest as float64. */
  number(value: number): void {
    if (!Number.isSafeInteger(value) || (value === 0 && 1 / value < 0)) {
      this.ensure(9);
      this.buffer[this.at] = 0xcb;
      this.view.setFloat64(this.at + 1, value);
      this.at += 9;
      return;
    }
    if (value >= 0) this.uint(value);
    else this.negative(value);
  }

  /** A non-negative safe integer in its smallest form. */
  uint(value: number): void {
    this.ensure(9);
    const b = this.buffer;
    const at = this.at;
    if (value < 0x80) {
      b[at] = value;
      this.at = at + 1;
    } else if (value < 0x100) {
      b[at] = 0xcc;
      b[at + 1] = value;
      this.at = at + 2;
    } else if (value < 0x10000) {
      b[at] = 0xcd;
      this.view.setUint16(at + 1, value);
      this.at = at + 3;
    } else if (value < 0x100000000) {
      b[at] = 0xce;
      this.view.setUint32(at + 1, value);
      this.at = at + 5;
    } else {
      b[at] = 0xcf;
      this.view.setUint32(at + 1, Math.floor(value / 0x100000000));
      this.view.setUint32(at + 5, value >>> 0);
      this.at = at + 9;
    }
  }

  /** A negative safe integer in its smallest form. */
  private negative(value: number): void {
    this.ensure(9);
    const b = this.buffer;
    const at = this.at;
    if (value >= -32) {
      b[at] = value & 0xff;
      this.at = at + 1;
    } else if (value >= -0x80) {
      b[at] = 0xd0;
      this.view.setInt8(at + 1, value);
      this.at = at + 2;
    } else if (value >= -0x8000) {
      b[at] = 0xd1;
      this.view.setInt16(at + 1, value);
      this.at = at + 3;
    } else if (value >= -0x80000000) {
      b[at] = 0xd2;
      this.view.setInt32(at + 1, value);
      this.at = at + 5;
    } else {
      // Two's complement int64 from a safe integer: high word floor(v / 2^32), low word the rest.
      const high = Math.floor(value / 0x100000000);
      b[at] = 0xd3;
      this.view.setInt32(at + 1, high);
      this.view.setUint32(at + 5, value - high * 0x100000000);
      this.at = at + 9;
    }
  }

  /** MpWriter#str: ASCII below 64 KiB written directly; anything else through the fallback. */
  str(value: string): void {
    const n = value.length;
    if (n >= 0x10000) return this.viaFallback(value, 0);
    this.ensure(3 + n);
    const b = this.buffer;
    const start = this.at;
    let at = start;
    if (n < 32) b[at++] = 0xa0 | n;
    else if (n < 0x100) {
      b[at++] = 0xd9;
      b[at++] = n;
    } else {
      b[at++] = 0xda;
      b[at++] = n >>> 8;
      b[at++] = n & 0xff;
    }
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) {
        this.at = start;
        return this.viaFallback(value, 0);
      }
      b[at++] = c;
    }
    this.at = at;
  }

  private viaFallback(value: MpValue, depth: number): void {
    const w = this.fallback;
    w.reset();
    w.value(value, depth);
    const bytes = w.toBytes();
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }
}

/** The arena every reply of this process is encoded in (see the module comment). */
export const replyArena = new ReplyArena();
