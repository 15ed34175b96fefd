/**
 * Memcomparable encoding of index keys for vinyl's byte-ordered stores: comparing the encodings
 * byte by byte gives Tarantool's order of the values (tuple-compare.ts), part after part, and an
 * encoded partial key is a prefix of the encoding of every key it matches.
 *
 * Per value: a class tag, then
 * - numbers: the order-preserving float64 of the value, then the int64 difference between an
 *   exact bigint and that float (0 for JS numbers), so every int64/uint64 stays exact;
 * - strings/varbinary/extensions: the bytes with 0x00 escaped as 00 FF, ended by 00 01;
 * - uuid: its 16 bytes.
 * No tag is 0xFF, so `prefix + FF` bounds every key that starts with `prefix`.
 */

import { MpExt, MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { MP_EXT_UUID } from './field-types.ts';

const TAG_NIL = 0x10;
const TAG_FALSE = 0x20;
const TAG_TRUE = 0x21;
const TAG_NAN = 0x2f;
const TAG_NUMBER = 0x30;
const TAG_STRING = 0x40;
const TAG_BINARY = 0x50;
const TAG_UUID = 0x60;
const TAG_EXT = 0x70;
export const KEY_BOUND_BYTE = 0xff;

const textEncoder = new TextEncoder();
const scratch = new DataView(new ArrayBuffer(8));

export class KeyBuilder {
  private bytes: number[] = [];

  reset(): this {
    this.bytes = [];
    return this;
  }

  byte(b: number): this {
    this.bytes.push(b);
    return this;
  }

  value(v: MpValue): this {
    switch (typeof v) {
      case 'number':
        return this.number(v, 0n);
      case 'bigint':
        return this.number(Number(v), v - BigInt(Number(v)));
      case 'string':
        return this.escaped(TAG_STRING, textEncoder.encode(v));
      case 'boolean':
        return this.byte(v ? TAG_TRUE : TAG_FALSE);
      default:
        break;
    }
    if (v === null || v === undefined) return this.byte(TAG_NIL);
    if (v instanceof MpFloat64) return this.number(v.value, 0n);
    if (v instanceof Uint8Array) return this.escaped(TAG_BINARY, v);
    if (v instanceof MpExt) {
      if (v.type === MP_EXT_UUID) {
        this.byte(TAG_UUID);
        for (const b of v.data) this.bytes.push(b);
        return this;
      }
      this.byte(TAG_EXT).byte(v.type & 0xff);
      return this.escaped(-1, v.data);
    }
    // Arrays and maps are never index parts; encode their msgpack-free JSON for totality.
    return this.escaped(TAG_EXT, textEncoder.encode(JSON.stringify(v)));
  }

  private number(value: number, delta: bigint): this {
    if (value !== value) return this.byte(TAG_NAN);
    this.byte(TAG_NUMBER);
    scratch.setFloat64(0, value === 0 ? 0 : value);
    const negative = (scratch.getUint8(0) & 0x80) !== 0;
    for (let i = 0; i < 8; i++) {
      const b = scratch.getUint8(i);
      this.bytes.push(negative ? ~b & 0xff : i === 0 ? b ^ 0x80 : b);
    }
    scratch.setBigInt64(0, delta);
    this.bytes.push(scratch.getUint8(0) ^ 0x80);
    for (let i = 1; i < 8; i++) this.bytes.push(scratch.getUint8(i));
    return this;
  }

  private escaped(tag: number, data: Uint8Array): this {
    if (tag >= 0) this.bytes.push(tag);
    for (const b of data) {
      this.bytes.push(b);
      if (b === 0) this.bytes.push(0xff);
    }
    this.bytes.push(0, 1);
    return this;
  }

  build(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** Smallest byte string greater than every string that starts with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + 1);
  out.set(prefix);
  out[prefix.length] = KEY_BOUND_BYTE;
  return out;
}

/** Byte keys as strings for Map lookups (one char per byte). */
export function bytesToKeyString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}
