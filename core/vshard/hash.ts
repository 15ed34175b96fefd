/**
 * vshard's bucket ids of sharding keys (REFERENCE 5.1): `digest.crc32` (CRC-32C, init
 * 0xFFFFFFFF, no final XOR) of the key, modulo the bucket count, plus one.
 *
 * - strcrc32 hashes the key as LuaJIT's `tostring` prints it (`%.14g` for numbers, `1LL` /
 *   `1ULL` for 64-bit cdata integers); a key that is an array hashes its parts' texts back to back.
 * - mpcrc32 hashes strings as their bytes and any other part as its msgpack encoding (integers
 *   in their smallest form, other numbers as float64).
 *
 * A key that arrives over iproto has already lost some Lua types: a float64 that holds an
 * integer arrives as MpFloat64 and is the Lua number it would be in Lua (which msgpack encodes
 * as an integer), and a Lua number above 2^53 arrives as a bigint, which is printed as the
 * uint64/int64 cdata it would be in Lua.
 */

import { encode, MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { crc32cUpdate } from '../lib/crc32c.ts';
import { ProcError } from '../rpc/proc-error.ts';

const UTF8 = new TextEncoder();

/** C's `%.14g`, which LuaJIT's `tostring` uses for numbers. */
export function formatLuaNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, exponentText] = x.toExponential(13).split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 14) {
    const sign = exponent < 0 ? '-' : '+';
    return `${stripZeros(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return stripZeros(x.toFixed(13 - exponent));
}

function stripZeros(fixed: string): string {
  if (!fixed.includes('.')) return fixed;
  return fixed.replace(/0+$/, '').replace(/\.$/, '');
}

/** LuaJIT's `tostring` of a key part. */
function luaText(part: MpValue): string {
  if (typeof part === 'string') return part;
  if (typeof part === 'number') return formatLuaNumber(part);
  if (part instanceof MpFloat64) return formatLuaNumber(part.value);
  if (typeof part === 'bigint') return part < 0n ? `${part}LL` : `${part}ULL`;
  if (typeof part === 'boolean') return part ? 'true' : 'false';
  if (part === null || part === undefined) return 'nil';
  // Lua prints a table or cdata as its address: no stable text to hash.
  throw new ProcError(`bucket_id_strcrc32: a key part must be a string, number or boolean, got ${describe(part)}`);
}

function describe(part: MpValue): string {
  if (Array.isArray(part)) return 'an array';
  if (part instanceof Uint8Array) return 'binary';
  return 'a map';
}

function parts(key: MpValue): readonly MpValue[] {
  return Array.isArray(key) ? (key as readonly MpValue[]) : [key];
}

function toBucket(crc: number, bucketCount: number): number {
  return ((crc >>> 0) % bucketCount) + 1;
}

export function bucketIdStrcrc32(key: MpValue, bucketCount: number): number {
  let crc = 0xffffffff;
  for (const part of parts(key)) crc = crc32cUpdate(crc, UTF8.encode(luaText(part)));
  return toBucket(crc, bucketCount);
}

export function bucketIdMpcrc32(key: MpValue, bucketCount: number): number {
  let crc = 0xffffffff;
  for (const part of parts(key)) crc = crc32cUpdate(crc, typeof part === 'string' ? UTF8.encode(part) : encode(asLuaValue(part)));
  return toBucket(crc, bucketCount);
}

const INT64_RANGE_ABS = 2 ** 63;

/**
 * A double as Lua holds it: just a number, which Tarantool's msgpack writes as an integer when
 * it is integral and in the int64 range.
 */
function asLuaValue(part: MpValue): MpValue {
  if (!(part instanceof MpFloat64)) return part;
  const v = part.value;
  if (!Number.isInteger(v) || Math.abs(v) >= INT64_RANGE_ABS) return v;
  return Number.isSafeInteger(v) ? v : BigInt(v);
}
