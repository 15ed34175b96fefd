/**
 * MessagePack, written for Tarantool fidelity rather than taken from a general library:
 * - integers always encode as the smallest msgpack integer (never as float64, whatever their size);
 *   int64/uint64 beyond 2^53 decode to `bigint`;
 * - maps whose keys are all strings decode to plain objects, any other map to `Map`, so integer
 *   keys (iproto bodies, user data) survive a round trip;
 * - extension types (uuid = 2, decimal = 1, datetime = 4, error = 3) are kept as `MpExt`;
 * - `MpReader` exposes the raw bytes of a string, for iproto AUTH whose scramble is an MP_STR of
 *   arbitrary bytes.
 */

import { assert } from '../lib/assert.ts';

export class MpExt {
  readonly type: number;
  readonly data: Uint8Array;
  constructor(type: number, data: Uint8Array) {
    assert(Number.isInteger(type) && type >= -128 && type <= 127, 'ext type out of range');
    this.type = type;
    this.data = data;
  }
}

/**
 * Forces float64 encoding of an integral number (Tarantool `double` fields). The decoder hands
 * out every integral float (1.0, 2^53 sent as a double) as one, so that a double is never taken
 * for an integer: Tarantool refuses it in `unsigned` and `integer` fields and reads it back as a
 * double. Non-integral floats decode to plain numbers, which the encoder writes as doubles anyway.
 */
export class MpFloat64 {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** An integer in the form the decoder gives it: a number when it is safe, else the bigint. */
export function narrowInteger(value: bigint): number | bigint {
  return value >= SAFE_MIN && value <= SAFE_MAX ? Number(value) : value;
}

/**
 * The number a value holds, double or integer (a 64-bit one rounded), for arguments where any
 * will do (timeouts, log indexes from Lua or Python clients); undefined for anything else.
 */
export function mpNumber(value: MpValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return value instanceof MpFloat64 ? value.value : undefined;
}

/** A decoded float: integral ones stay marked as doubles (see MpFloat64). */
function floatValue(v: number): number | MpFloat64 {
  return Number.isInteger(v) ? new MpFloat64(v) : v;
}

export type MpObject = { [key: string]: MpValue };
export type MpValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MpExt
  | MpFloat64
  | MpValue[]
  | ReadonlyArray<MpValue>
  | Map<MpValue, MpValue>
  | MpObject;

export class MsgpackError extends Error {
  override readonly name = 'MsgpackError';
}

/** Nesting deeper than this is refused (on both sides) instead of overflowing the stack. */
export const MSGPACK_DEPTH_MAX = 256;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

// ---------------------------------------------------------------------------------------------
// Encoder

export class MpWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacityBytes = 256) {
    this.buffer = new Uint8Array(initialCapacityBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  /** The encoded bytes; a copy, so the writer can be reused. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }

  private ensure(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(byte: number): void {
    this.ensure(1);
    this.buffer[this.length++] = byte;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Writes a big-endian uint32 at `offset` (for length prefixes patched after the fact). */
  patchU32(offset: number, value: number): void {
    this.view.setUint32(offset, value);
  }

  /** Appends `ce` + u32 (a fixed-width uint), returning the offset of the 4 value bytes. */
  u32Fixed(value: number): number {
    this.ensure(5);
    this.buffer[this.length++] = 0xce;
    const at = this.length;
    this.view.setUint32(at, value);
    this.length += 4;
    return at;
  }

  nil(): void {
    this.u8(0xc0);
  }

  bool(value: boolean): void {
    this.u8(value ? 0xc3 : 0xc2);
  }

  uint(value: number): void {
    this.ensure(9);
    const b = this.buffer;
    if (value < 0x80) b[this.length++] = value;
    else if (value < 0x100) {
      b[this.length++] = 0xcc;
      b[this.length++] = value;
    } else if (value < 0x10000) {
      b[this.length++] = 0xcd;
      this.view.setUint16(this.length, value);
      this.length += 2;
    } else if (value < 0x100000000) {
      b[this.length++] = 0xce;
      this.view.setUint32(this.length, value);
      this.length += 4;
    } else {
      b[this.length++] = 0xcf;
      this.view.setUint32(this.length, Math.floor(value / 0x100000000));
      this.view.setUint32(this.length + 4, value >>> 0);
      this.length += 8;
    }
  }

  int(value: number): void {
    if (value >= 0) return this.uint(value);
    this.ensure(9);
    const b = this.buffer;
    if (value >= -32) b[this.length++] = value & 0xff;
    else if (value >= -0x80) {
      b[this.length++] = 0xd0;
      this.view.setInt8(this.length, value);
      this.length += 1;
    } else if (value >= -0x8000) {
      b[this.length++] = 0xd1;
      this.view.setInt16(this.length, value);
      this.length += 2;
    } else if (value >= -0x80000000) {
      b[this.length++] = 0xd2;
      this.view.setInt32(this.length, value);
      this.length += 4;
    } else {
      b[this.length++] = 0xd3;
      this.view.setBigInt64(this.length, BigInt(value));
      this.length += 8;
    }
  }

  bigint(value: bigint): void {
    if (value >= 0n) {
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return this.uint(Number(value));
      if (value > 0xffffffffffffffffn) throw new MsgpackError(`integer ${value} does not fit in uint64`);
      this.ensure(9);
      this.buffer[this.length++] = 0xcf;
      this.view.setBigUint64(this.length, value);
      this.length += 8;
      return;
    }
    if (value >= BigInt(Number.MIN_SAFE_INTEGER)) return this.int(Number(value));
    if (value < -0x8000000000000000n) throw new MsgpackError(`integer ${value} does not fit in int64`);
    this.ensure(9);
    this.buffer[this.length++] = 0xd3;
    this.view.setBigInt64(this.length, value);
    this.length += 8;
  }

  float64(value: number): void {
    this.ensure(9);
    this.buffer[this.length++] = 0xcb;
    this.view.setFloat64(this.length, value);
    this.length += 8;
  }

  number(value: number): void {
    // Positive fixints first: the commonest number by far (ids, counters, small fields).
    if (value > 0 && value < 0x80 && (value | 0) === value) {
      this.ensure(1);
      this.buffer[this.length++] = value;
      return;
    }
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) this.int(value);
    else this.float64(value);
  }

  str(value: string): void {
    // ASCII dominates (names, ids, addresses, uuids): write it without TextEncoder's allocation.
    const n = value.length;
    if (n < 0x10000 && isAscii(value)) {
      this.ensure(3 + n);
      const b = this.buffer;
      if (n < 32) b[this.length++] = 0xa0 | n;
      else if (n < 0x100) {
        b[this.length++] = 0xd9;
        b[this.length++] = n;
      } else {
        b[this.length++] = 0xda;
        this.view.setUint16(this.length, n);
        this.length += 2;
      }
      for (let i = 0; i < n; i++) b[this.length++] = value.charCodeAt(i);
      return;
    }
    this.strBytes(textEncoder.encode(value));
  }

  /** An MP_STR holding arbitrary bytes (iproto AUTH scramble). */
  strBytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(5 + n);
    const b = this.buffer;
    if (n < 32) b[this.length++] = 0xa0 | n;
    else if (n < 0x100) {
      b[this.length++] = 0xd9;
      b[this.length++] = n;
    } else if (n < 0x10000) {
      b[this.length++] = 0xda;
      this.view.setUint16(this.length, n);
      this.length += 2;
    } else {
      b[this.length++] = 0xdb;
      this.view.setUint32(this.length, n);
      this.length += 4;
    }
    this.raw(bytes);
  }

  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(5 + n);
    const b = this.buffer;
    if (n < 0x100) {
      b[this.length++] = 0xc4;
      b[this.length++] = n;
    } else if (n < 0x10000) {
      b[this.length++] = 0xc5;
      this.view.setUint16(this.length, n);
      this.length += 2;
    } else {
      b[this.length++] = 0xc6;
      this.view.setUint32(this.length, n);
      this.length += 4;
    }
    this.raw(bytes);
  }

  arrayHeader(count: number): void {
    this.ensure(5);
    const b = this.buffer;
    if (count < 16) b[this.length++] = 0x90 | count;
    else if (count < 0x10000) {
      b[this.length++] = 0xdc;
      this.view.setUint16(this.length, count);
      this.length += 2;
    } else {
      b[this.length++] = 0xdd;
      this.view.setUint32(this.length, count);
      this.length += 4;
    }
  }

  mapHeader(count: number): void {
    this.ensure(5);
    const b = this.buffer;
    if (count < 16) b[this.length++] = 0x80 | count;
    else if (count < 0x10000) {
      b[this.length++] = 0xde;
      this.view.setUint16(this.length, count);
      this.length += 2;
    } else {
      b[this.length++] = 0xdf;
      this.view.setUint32(this.length, count);
      this.length += 4;
    }
  }

  ext(type: number, data: Uint8Array): void {
    const n = data.length;
    this.ensure(6 + n);
    const b = this.buffer;
    const fixed: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
    const code = fixed[n];
    if (code !== undefined) b[this.length++] = code;
    else if (n < 0x100) {
      b[this.length++] = 0xc7;
      b[this.length++] = n;
    } else if (n < 0x10000) {
      b[this.length++] = 0xc8;
      this.view.setUint16(this.length, n);
      this.length += 2;
    } else {
      b[this.length++] = 0xc9;
      this.view.setUint32(this.length, n);
      this.length += 4;
    }
    this.view.setInt8(this.length++, type);
    this.raw(data);
  }

  value(value: MpValue, depth = 0): void {
    if (depth > MSGPACK_DEPTH_MAX) throw new MsgpackError('value nested too deeply');
    switch (typeof value) {
      case 'number':
        return this.number(value);
      case 'string':
        return this.str(value);
      case 'boolean':
        return this.bool(value);
      case 'bigint':
        return this.bigint(value);
      case 'undefined':
        return this.nil();
      case 'object':
        return this.object(value, depth);
      default:
        throw new MsgpackError(`cannot encode a ${typeof value}`);
    }
  }

  private object(value: object | null, depth: number): void {
    if (value === null) return this.nil();
    if (Array.isArray(value)) {
      // An indexed loop: for-of over a frozen array (every tuple) misses V8's fast path.
      const items = value as readonly MpValue[];
      const n = items.length;
      this.arrayHeader(n);
      for (let i = 0; i < n; i++) {
        // Scalars inline: value() -> object() -> value() recursion is never inlined by V8.
        const item = items[i];
        if (typeof item === 'number') this.number(item);
        else if (typeof item === 'string') this.str(item);
        else this.value(item, depth + 1);
      }
      return;
    }
    if (value instanceof Uint8Array) return this.bin(value);
    if (value instanceof Map) {
      this.mapHeader(value.size);
      for (const [k, v] of value as Map<MpValue, MpValue>) {
        this.value(k, depth + 1);
        this.value(v, depth + 1);
      }
      return;
    }
    if (value instanceof MpExt) return this.ext(value.type, value.data);
    if (value instanceof MpFloat64) return this.float64(value.value);
    const record = value as MpObject;
    const keys = Object.keys(record).filter((k) => record[k] !== undefined);
    this.mapHeader(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value(record[k], depth + 1);
    }
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

const sharedWriter = new MpWriter(4096);

export function encode(value: MpValue): Uint8Array {
  sharedWriter.reset();
  sharedWriter.value(value);
  return sharedWriter.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Decoder

export class MpReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = start;
    this.end = end;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  private need(count: number): void {
    if (this.offset + count > this.end) throw new MsgpackError('unexpected end of msgpack data');
  }

  private byte(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  /** The type byte of the next value without consuming it. */
  peek(): number {
    this.need(1);
    return this.bytes[this.offset]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  private u64(): number | bigint {
    this.need(8);
    const hi = this.view.getUint32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    if (hi < 0x200000) return hi * 0x100000000 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  private i64(): number | bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.offset);
    this.offset += 8;
    return narrowInteger(v);
  }

  /** Reads an array header; throws if the next value is not an array. */
  arrayHeader(): number {
    const t = this.byte();
    if ((t & 0xf0) === 0x90) return t & 0x0f;
    if (t === 0xdc) return this.u16();
    if (t === 0xdd) return this.u32();
    this.offset--;
    throw new MsgpackError(`expected an array, found type byte 0x${t.toString(16)}`);
  }

  /** Reads a map header; throws if the next value is not a map. */
  mapHeader(): number {
    const t = this.byte();
    if ((t & 0xf0) === 0x80) return t & 0x0f;
    if (t === 0xde) return this.u16();
    if (t === 0xdf) return this.u32();
    this.offset--;
    throw new MsgpackError(`expected a map, found type byte 0x${t.toString(16)}`);
  }

  /** Reads an MP_STR or MP_BIN as raw bytes (a view, not a copy). */
  strBytes(): Uint8Array {
    const t = this.byte();
    let n: number;
    if ((t & 0xe0) === 0xa0) n = t & 0x1f;
    else if (t === 0xd9 || t === 0xc4) n = this.byte();
    else if (t === 0xda || t === 0xc5) n = this.u16();
    else if (t === 0xdb || t === 0xc6) n = this.u32();
    else {
      this.offset--;
      throw new MsgpackError(`expected a string, found type byte 0x${t.toString(16)}`);
    }
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Skips one value without building it. */
  skip(): void {
    const start = this.offset;
    this.value(0, true);
    assert(this.offset > start, 'skip must advance');
  }

  /** The raw encoded bytes of the next value (a view). */
  rawValue(): Uint8Array {
    const start = this.offset;
    this.skip();
    return this.bytes.subarray(start, this.offset);
  }

  value(depth = 0, skipOnly = false): MpValue {
    if (depth > MSGPACK_DEPTH_MAX) throw new MsgpackError('msgpack nested too deeply');
    const t = this.byte();
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if ((t & 0xe0) === 0xa0) return this.string(t & 0x1f, skipOnly);
    if ((t & 0xf0) === 0x90) return this.array(t & 0x0f, depth, skipOnly);
    if ((t & 0xf0) === 0x80) return this.map(t & 0x0f, depth, skipOnly);
    return this.valueTyped(t, depth, skipOnly);
  }

  private valueTyped(t: number, depth: number, skipOnly: boolean): MpValue {
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return this.u64();
      case 0xd0:
        this.need(1);
        return this.view.getInt8(this.offset++);
      case 0xd1: {
        this.need(2);
        const v = this.view.getInt16(this.offset);
        this.offset += 2;
        return v;
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.offset);
        this.offset += 4;
        return v;
      }
      case 0xd3:
        return this.i64();
      case 0xca: {
        this.need(4);
        const v = this.view.getFloat32(this.offset);
        this.offset += 4;
        return floatValue(v);
      }
      case 0xcb: {
        this.need(8);
        const v = this.view.getFloat64(this.offset);
        this.offset += 8;
        return floatValue(v);
      }
      case 0xd9:
        return this.string(this.byte(), skipOnly);
      case 0xda:
        return this.string(this.u16(), skipOnly);
      case 0xdb:
        return this.string(this.u32(), skipOnly);
      case 0xc4:
        return this.binary(this.byte(), skipOnly);
      case 0xc5:
        return this.binary(this.u16(), skipOnly);
      case 0xc6:
        return this.binary(this.u32(), skipOnly);
      case 0xdc:
        return this.array(this.u16(), depth, skipOnly);
      case 0xdd:
        return this.array(this.u32(), depth, skipOnly);
      case 0xde:
        return this.map(this.u16(), depth, skipOnly);
      case 0xdf:
        return this.map(this.u32(), depth, skipOnly);
      case 0xd4:
        return this.extension(1, skipOnly);
      case 0xd5:
        return this.extension(2, skipOnly);
      case 0xd6:
        return this.extension(4, skipOnly);
      case 0xd7:
        return this.extension(8, skipOnly);
      case 0xd8:
        return this.extension(16, skipOnly);
      case 0xc7:
        return this.extension(this.byte(), skipOnly);
      case 0xc8:
        return this.extension(this.u16(), skipOnly);
      case 0xc9:
        return this.extension(this.u32(), skipOnly);
      default:
        throw new MsgpackError(`invalid msgpack type byte 0x${t.toString(16)}`);
    }
  }

  private string(length: number, skipOnly: boolean): string {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    if (skipOnly) return '';
    const b = this.bytes;
    if (length < 24) {
      let out = '';
      for (let i = start; i < start + length; i++) {
        const c = b[i]!;
        if (c > 0x7f) return textDecoder.decode(b.subarray(start, start + length));
        out += String.fromCharCode(c);
      }
      return out;
    }
    return textDecoder.decode(b.subarray(start, start + length));
  }

  private binary(length: number, skipOnly: boolean): Uint8Array {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return skipOnly ? this.bytes : this.bytes.slice(start, start + length);
  }

  private extension(length: number, skipOnly: boolean): MpValue {
    this.need(1 + length);
    const type = this.view.getInt8(this.offset);
    const start = this.offset + 1;
    this.offset = start + length;
    if (skipOnly) return null;
    return new MpExt(type, this.bytes.slice(start, start + length));
  }

  private array(count: number, depth: number, skipOnly: boolean): MpValue[] {
    // Every element takes at least one byte: a count beyond the remaining bytes is malformed,
    // and refusing it early avoids allocating a huge array for a 5-byte packet.
    if (count > this.end - this.offset) throw new MsgpackError('array length exceeds the data');
    if (skipOnly) {
      for (let i = 0; i < count; i++) this.value(depth + 1, true);
      return [];
    }
    const out = new Array<MpValue>(count);
    for (let i = 0; i < count; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private map(count: number, depth: number, skipOnly: boolean): MpValue {
    if (count * 2 > this.end - this.offset) throw new MsgpackError('map length exceeds the data');
    if (skipOnly) {
      for (let i = 0; i < 2 * count; i++) this.value(depth + 1, true);
      return null;
    }
    let record: MpObject | null = {};
    let map: Map<MpValue, MpValue> | null = null;
    for (let i = 0; i < count; i++) {
      const key = this.value(depth + 1);
      const value = this.value(depth + 1);
      // `__proto__` as a plain-object key would replace the prototype: such maps stay Maps.
      if (record !== null && typeof key === 'string' && key !== '__proto__') {
        record[key] = value;
        continue;
      }
      if (map === null) map = new Map(record === null ? [] : Object.entries(record));
      record = null;
      map.set(key, value);
    }
    return map ?? record!;
  }
}

/** Decodes exactly one value; trailing bytes are an error. */
export function decode(bytes: Uint8Array): MpValue {
  const reader = new MpReader(bytes);
  const value = reader.value();
  if (!reader.done) throw new MsgpackError(`${reader.end - reader.offset} trailing bytes after msgpack value`);
  return value;
}

/** Reads a field of a decoded map whether it came back as a plain object or a Map. */
export function mapGet(map: MpValue, key: string | number): MpValue {
  if (map instanceof Map) return map.get(key);
  if (map !== null && typeof map === 'object' && !Array.isArray(map) && !(map instanceof Uint8Array)) {
    return (map as MpObject)[String(key)];
  }
  return undefined;
}

export function isMpMap(value: MpValue): value is Map<MpValue, MpValue> | MpObject {
  return (
    value instanceof Map ||
    (value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Uint8Array) &&
      !(value instanceof MpExt) &&
      !(value instanceof MpFloat64))
  );
}
