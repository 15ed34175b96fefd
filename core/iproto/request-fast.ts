/**
 * The fast path of request decoding, for the frames that make up nearly all traffic: PING
 * without a body or with an empty one, and the DML requests (SELECT, INSERT, REPLACE, UPDATE, DELETE, UPSERT) in the
 * form every connector writes them: fixmap header and body, fixint keys, each key at most once.
 * It reads the frame in one pass with one reused decoder (no reader object per frame, no
 * validation pass ahead of the decode, no per-field maps or views).
 *
 * It either returns exactly what the general decoder (request.ts) returns for the frame, or
 * undefined, and then the general decoder runs. So it only accepts what it fully understands and
 * what the general decoder accepts too, and gives up on everything else: other request types, a
 * header or body key it does not read, a repeated key, a value of another wire type than the key
 * wants, a missing mandatory field, an unknown iterator, trailing bytes, truncation, and values
 * outside its own range (a sync beyond 2^53). Inside keys and tuples, the values it does not
 * decode itself (floats, maps, binary, extensions, long or non-ASCII strings, 64-bit integers) are
 * read by core/codec's MpReader, so they come out the same by construction; where MpReader would
 * refuse a value (0xc1, nesting deeper than MSGPACK_DEPTH_MAX) the fast path gives up as well.
 * test/iproto/request-fast.test.ts checks the agreement on random and damaged frames.
 *
 * `decodeFrameFast` also hands out a SELECT as one SelectFrame instead of the header, request and
 * result objects: the server answers a point select from it without building them
 * (core/iproto/session.ts).
 */

import { MpReader, MsgpackError, MSGPACK_DEPTH_MAX, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { BodyKey, ITERATOR_CODE_MAX, RequestType, type IteratorCode } from './constants.ts';
import type { DecodedRequest, Request, RequestHeader, SelectRequest } from './request.ts';

/** Returned by the readers below instead of a value when the fast path gives up. */
const GIVE_UP: unique symbol = Symbol('give up');
type Read<T> = T | typeof GIVE_UP;

/**
 * Whether a read gave up. A typeof test rather than `=== GIVE_UP`: values of mixed types
 * compared to a symbol make V8 call its generic equality builtin; no msgpack value is a symbol.
 */
function gaveUp<T>(read: Read<T>): read is typeof GIVE_UP {
  return typeof read === 'symbol';
}

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_ARRAY: MpValue[] = [];

const bit = (bodyKey: number): number => 1 << (bodyKey & 0x1f);
const SPACE_ID = bit(BodyKey.SPACE_ID);
const LIMIT = bit(BodyKey.LIMIT);
const KEY = bit(BodyKey.KEY);
const TUPLE = bit(BodyKey.TUPLE);
const OPS = bit(BodyKey.OPS);

/** The fields each request type must carry (request.ts MANDATORY_KEYS), as bits; -1 for other types. */
function mandatoryBits(type: number): number {
  switch (type) {
    case RequestType.SELECT:
      return SPACE_ID | LIMIT | KEY;
    case RequestType.INSERT:
    case RequestType.REPLACE:
      return SPACE_ID | TUPLE;
    case RequestType.UPDATE:
      return SPACE_ID | KEY | TUPLE;
    case RequestType.DELETE:
      return SPACE_ID | KEY;
    case RequestType.UPSERT:
      return SPACE_ID | TUPLE | OPS;
    default:
      return -1;
  }
}

/** Tarantool keeps 32 bits of ids, limits and versions (request.ts `uint32`). */
function uint32(value: number): number {
  return value <= 0xffffffff ? value : value % 0x100000000;
}

function isArrayByte(t: number): boolean {
  return (t & 0xf0) === 0x90 || t === 0xdc || t === 0xdd;
}

/**
 * A SELECT frame as the fast path read it: the header and body fields in one object. `header()`
 * and `request()` are what the general decoder returns for the frame.
 */
export class SelectFrame {
  readonly sync: number;
  readonly schemaVersion: number;
  readonly streamId: number;
  readonly spaceId: number;
  readonly indexId: number;
  readonly limit: number;
  readonly offset: number;
  readonly iterator: IteratorCode;
  readonly key: MpValue[];

  // Positional: one allocation per select, no argument object.
  constructor(sync: number, schemaVersion: number, streamId: number, spaceId: number, indexId: number, limit: number, offset: number, iterator: IteratorCode, key: MpValue[]) {
    this.sync = sync;
    this.schemaVersion = schemaVersion;
    this.streamId = streamId;
    this.spaceId = spaceId;
    this.indexId = indexId;
    this.limit = limit;
    this.offset = offset;
    this.iterator = iterator;
    this.key = key;
  }

  header(): RequestHeader {
    return { type: RequestType.SELECT, sync: this.sync, schemaVersion: this.schemaVersion, streamId: this.streamId };
  }

  request(): SelectRequest {
    return { kind: 'select', spaceId: this.spaceId, indexId: this.indexId, limit: this.limit, offset: this.offset, iterator: this.iterator, key: this.key };
  }
}

/**
 * Decoder state, reused for every frame (object fields, which V8 keeps unboxed and updates in
 * place, rather than module bindings).
 */
class FastDecoder {
  /** The frame being decoded, bytes[start, end) of a larger buffer, and the read position in it. */
  private bytes: Uint8Array = EMPTY_BYTES;
  private at = 0;
  private end = 0;
  /** Header fields, as read. */
  private type = 0;
  private sync = 0;
  private schemaVersion = 0;
  private streamId = 0;
  /** Body fields of a DML request, as read. */
  private spaceId = 0;
  private indexId = 0;
  private limit = 0;
  private offset = 0;
  private iterator = 0;
  private indexBase = 0;

  /** With `selectFrames`, a SELECT comes back as a SelectFrame. */
  decode(bytes: Uint8Array, start: number, end: number, selectFrames: false): DecodedRequest | undefined;
  decode(bytes: Uint8Array, start: number, end: number, selectFrames: true): DecodedRequest | SelectFrame | undefined;
  decode(bytes: Uint8Array, start: number, end: number, selectFrames: boolean): DecodedRequest | SelectFrame | undefined {
    this.bytes = bytes;
    this.at = start;
    this.end = end;
    const decoded = this.decodeFrame(selectFrames);
    // Drop the references so a frame (and the read buffer behind it) is not kept alive.
    this.bytes = EMPTY_BYTES;
    return decoded;
  }

  private decodeFrame(selectFrames: boolean): DecodedRequest | SelectFrame | undefined {
    if (!this.readHeader()) return undefined;
    const type = this.type;
    if (type === RequestType.PING) {
      // PING's body is never read: none, or an empty map (net.box), here; anything else is checked
      // by the general path. DML without a body would be "missing field", for the general path.
      const rest = this.end - this.at;
      const empty = rest === 0 || (rest === 1 && this.bytes[this.at] === 0x80);
      return empty ? { ok: true, header: this.header(), request: { kind: 'ping' } } : undefined;
    }
    if (this.at === this.end) return undefined;
    const mandatory = mandatoryBits(type);
    if (mandatory < 0) return undefined;
    const request = this.readDmlBody(type, mandatory, selectFrames);
    if (request === undefined || request instanceof SelectFrame) return request;
    return { ok: true, header: this.header(), request };
  }

  private header(): RequestHeader {
    return { type: this.type, sync: this.sync, schemaVersion: this.schemaVersion, streamId: this.streamId };
  }

  /**
   * A fixmap header with fixint keys 0x00-0x0a holding uints (0x04, a double, gives up), into
   * the header fields; false to give up.
   */
  private readHeader(): boolean {
    const b = this.bytes;
    if (this.at >= this.end) return false;
    const first = b[this.at++]!;
    if ((first & 0xf0) !== 0x80) return false;
    let type = 0;
    let sync = 0;
    let schemaVersion = 0;
    let streamId = 0;
    for (let i = first & 0x0f; i > 0; i--) {
      if (this.at >= this.end) return false;
      const headerKey = b[this.at++]!;
      if (headerKey > 0x0a || headerKey === 0x04) return false;
      const value = this.readUint();
      if (value < 0) return false;
      // Tarantool keeps the low byte of the type and 32 bits of versions and ids (see request.ts).
      if (headerKey === 0x00) type = value <= 0xffffffff ? value & 0xff : value % 0x100;
      else if (headerKey === 0x01) sync = value;
      else if (headerKey === 0x05) schemaVersion = uint32(value);
      else if (headerKey === 0x0a) streamId = uint32(value);
    }
    this.type = type;
    this.sync = sync;
    this.schemaVersion = schemaVersion;
    this.streamId = streamId;
    return true;
  }

  /**
   * Reads a fixmap body of DML keys into the request of `type`, which must carry the fields in
   * `mandatory`; undefined to give up. The arrays stay in locals until the request holds them:
   * a fresh array stored into the long-lived decoder would cost V8 a remembered-set entry.
   */
  private readDmlBody(type: number, mandatory: number, selectFrames: boolean): Request | SelectFrame | undefined {
    this.spaceId = this.indexId = this.limit = this.offset = this.iterator = this.indexBase = 0;
    let key = EMPTY_ARRAY;
    let tuple = EMPTY_ARRAY;
    let ops = EMPTY_ARRAY;
    /** Bit (1 << (key & 0x1f)) for every body key read so far (0x10-0x15 and 0x20, 0x21, 0x28). */
    let seen = 0;
    const b = this.bytes;
    const first = b[this.at++]!;
    if ((first & 0xf0) !== 0x80) return undefined;
    for (let i = first & 0x0f; i > 0; i--) {
      if (this.at >= this.end) return undefined;
      const bodyKey = b[this.at++]!;
      const mask = bit(bodyKey);
      if ((seen & mask) !== 0) return undefined;
      seen |= mask;
      if (bodyKey >= BodyKey.SPACE_ID && bodyKey <= BodyKey.INDEX_BASE) {
        const value = this.readUint();
        if (value < 0) return undefined;
        this.setUint(bodyKey, uint32(value));
      } else if (bodyKey === BodyKey.KEY || bodyKey === BodyKey.TUPLE || bodyKey === BodyKey.OPS) {
        if (this.at >= this.end || !isArrayByte(b[this.at]!)) return undefined;
        const value = this.readValue(0);
        if (gaveUp(value)) return undefined;
        if (bodyKey === BodyKey.KEY) key = value as MpValue[];
        else if (bodyKey === BodyKey.TUPLE) tuple = value as MpValue[];
        else ops = value as MpValue[];
      } else {
        return undefined;
      }
    }
    if (this.at !== this.end || (seen & mandatory) !== mandatory) return undefined;
    if (type === RequestType.SELECT && this.iterator > ITERATOR_CODE_MAX) return undefined;
    if (selectFrames && type === RequestType.SELECT) return this.buildSelectFrame(key);
    return this.buildDml(type, key, tuple, ops);
  }

  private setUint(bodyKey: number, value: number): void {
    switch (bodyKey) {
      case BodyKey.SPACE_ID:
        this.spaceId = value;
        break;
      case BodyKey.INDEX_ID:
        this.indexId = value;
        break;
      case BodyKey.LIMIT:
        this.limit = value;
        break;
      case BodyKey.OFFSET:
        this.offset = value;
        break;
      case BodyKey.ITERATOR:
        this.iterator = value;
        break;
      default:
        this.indexBase = value;
    }
  }

  /** A SELECT whose iterator was checked (at most ITERATOR_CODE_MAX). */
  private buildSelectFrame(key: MpValue[]): SelectFrame {
    const iterator = this.iterator as IteratorCode;
    return new SelectFrame(this.sync, this.schemaVersion, this.streamId, this.spaceId, this.indexId, this.limit, this.offset, iterator, key);
  }

  /**
   * The request objects the general decoder builds (same fields, same order); a SELECT's
   * iterator was checked.
   */
  private buildDml(type: number, key: MpValue[], tuple: MpValue[], ops: MpValue[]): Request {
    const { spaceId, indexId, indexBase } = this;
    switch (type) {
      case RequestType.SELECT:
        return { kind: 'select', spaceId, indexId, limit: this.limit, offset: this.offset, iterator: this.iterator as IteratorCode, key };
      case RequestType.INSERT:
        return { kind: 'insert', spaceId, tuple };
      case RequestType.REPLACE:
        return { kind: 'replace', spaceId, tuple };
      case RequestType.UPDATE:
        return { kind: 'update', spaceId, indexId, key, ops: tuple, indexBase };
      case RequestType.DELETE:
        return { kind: 'delete', spaceId, indexId, key };
      default:
        return { kind: 'upsert', spaceId, tuple, ops, indexBase };
    }
  }

  /** An MP_UINT up to 2^53 - 1, or -1 (another type, truncated, or too large for a number). */
  private readUint(): number {
    const b = this.bytes;
    const at = this.at;
    if (at >= this.end) return -1;
    const t = b[at]!;
    if (t < 0x80) {
      this.at = at + 1;
      return t;
    }
    switch (t) {
      case 0xcc:
        if (at + 2 > this.end) return -1;
        this.at = at + 2;
        return b[at + 1]!;
      case 0xcd:
        if (at + 3 > this.end) return -1;
        this.at = at + 3;
        return (b[at + 1]! << 8) | b[at + 2]!;
      case 0xce:
        if (at + 5 > this.end) return -1;
        this.at = at + 5;
        return u32(b, at + 1);
      case 0xcf: {
        if (at + 9 > this.end) return -1;
        const high = u32(b, at + 1);
        if (high >= 0x200000) return -1;
        this.at = at + 9;
        return high * 0x100000000 + u32(b, at + 5);
      }
      default:
        return -1;
    }
  }

  /**
   * One msgpack value, as MpReader#value would decode it: the common kinds here, the rest by
   * MpReader itself. GIVE_UP where the bytes run out or MpReader would throw.
   */
  private readValue(depth: number): Read<MpValue> {
    const b = this.bytes;
    const at = this.at;
    if (depth > MSGPACK_DEPTH_MAX || at >= this.end) return GIVE_UP;
    const t = b[at]!;
    if (t < 0x80) {
      this.at = at + 1;
      return t;
    }
    if (t >= 0xe0) {
      this.at = at + 1;
      return t - 0x100;
    }
    if ((t & 0xf0) === 0x90) {
      this.at = at + 1;
      return this.readArray(t & 0x0f, depth);
    }
    if ((t & 0xe0) === 0xa0) return this.readAscii(1, t & 0x1f, depth);
    switch (t) {
      case 0xc0:
        this.at = at + 1;
        return null;
      case 0xc2:
        this.at = at + 1;
        return false;
      case 0xc3:
        this.at = at + 1;
        return true;
      case 0xcc:
      case 0xcd:
      case 0xce: {
        const value = this.readUint();
        return value < 0 ? GIVE_UP : value;
      }
      case 0xd0:
        if (at + 2 > this.end) return GIVE_UP;
        this.at = at + 2;
        return (b[at + 1]! << 24) >> 24;
      case 0xd1:
        if (at + 3 > this.end) return GIVE_UP;
        this.at = at + 3;
        return (((b[at + 1]! << 8) | b[at + 2]!) << 16) >> 16;
      case 0xd2:
        if (at + 5 > this.end) return GIVE_UP;
        this.at = at + 5;
        return u32(b, at + 1) | 0;
      case 0xd9:
        if (at + 2 > this.end) return GIVE_UP;
        return this.readAscii(2, b[at + 1]!, depth);
      case 0xdc:
        if (at + 3 > this.end) return GIVE_UP;
        this.at = at + 3;
        return this.readArray((b[at + 1]! << 8) | b[at + 2]!, depth);
      default:
        return this.readByMpReader(depth);
    }
  }

  private readArray(count: number, depth: number): Read<MpValue[]> {
    // Every element takes a byte at least: a longer count cannot be well-formed (MpReader's check).
    if (count > this.end - this.at) return GIVE_UP;
    const out = new Array<MpValue>(count);
    for (let i = 0; i < count; i++) {
      const item = this.readValue(depth + 1);
      if (gaveUp(item)) return GIVE_UP;
      out[i] = item;
    }
    return out;
  }

  /** A string whose `headBytes` type bytes are at `at`: ASCII here, anything else by MpReader. */
  private readAscii(headBytes: number, length: number, depth: number): Read<MpValue> {
    const b = this.bytes;
    const start = this.at + headBytes;
    const end = start + length;
    if (end > this.end) return GIVE_UP;
    let out = '';
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c > 0x7f) return this.readByMpReader(depth);
      out += String.fromCharCode(c);
    }
    this.at = end;
    return out;
  }

  private readByMpReader(depth: number): Read<MpValue> {
    // MpReader reads to the end of its array: give it the frame's bytes only (a view, off the fast path).
    const reader = new MpReader(this.end === this.bytes.length ? this.bytes : this.bytes.subarray(0, this.end), this.at);
    try {
      const value = reader.value(depth);
      this.at = reader.offset;
      return value;
    } catch (error) {
      if (error instanceof MsgpackError) return GIVE_UP;
      throw error;
    }
  }
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

const decoder = new FastDecoder();

/**
 * Decodes a common frame, bytes[start, end), or returns undefined for the general decoder to
 * handle it.
 */
export function decodeRequestFast(bytes: Uint8Array, start = 0, end = bytes.length): DecodedRequest | undefined {
  assert(start >= 0 && start <= end && end <= bytes.length, 'frame range within its buffer');
  return decoder.decode(bytes, start, end, false);
}

/** `decodeRequestFast`, but a SELECT comes back as a SelectFrame. */
export function decodeFrameFast(bytes: Uint8Array, start: number, end: number): DecodedRequest | SelectFrame | undefined {
  assert(start >= 0 && start <= end && end <= bytes.length, 'frame range within its buffer');
  return decoder.decode(bytes, start, end, true);
}
