/**
 * The fast path of request decoding, for the frames that make up nearly all traffic: PING
 * without a body and the DML requests (SELECT, INSERT, REPLACE, UPDATE, DELETE, UPSERT) in the
 * form every connector writes them: fixmap header and body, fixint keys, each key at most once.
 * It reads the frame in one pass with no reader object, no validation pass ahead of the decode,
 * no per-field maps or views.
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
 */

import { MpReader, MsgpackError, MSGPACK_DEPTH_MAX, type MpValue } from '../codec/msgpack.ts';
import { BodyKey, ITERATOR_CODE_MAX, RequestType, type IteratorCode } from './constants.ts';
import type { DecodedRequest, Request, RequestHeader } from './request.ts';

/** Returned by the readers below instead of a value when the fast path gives up. */
const GIVE_UP: unique symbol = Symbol('give up');
type Read<T> = T | typeof GIVE_UP;

/** The frame being decoded, and the read position in it (module state: no reader per frame). */
let bytes: Uint8Array = new Uint8Array(0);
let at = 0;

/** Body fields of a DML request, as read. */
let spaceId = 0;
let indexId = 0;
let limit = 0;
let offset = 0;
let iterator = 0;
let indexBase = 0;
let key: MpValue[] = [];
let tuple: MpValue[] = [];
let ops: MpValue[] = [];
/** Bit (1 << (key & 0x1f)) for every body key read so far (0x10-0x15 and 0x20, 0x21, 0x28). */
let seen = 0;

const bit = (bodyKey: number): number => 1 << (bodyKey & 0x1f);
const SPACE_ID = bit(BodyKey.SPACE_ID);
const LIMIT = bit(BodyKey.LIMIT);
const KEY = bit(BodyKey.KEY);
const TUPLE = bit(BodyKey.TUPLE);
const OPS = bit(BodyKey.OPS);

/** The fields each request type must carry (request.ts MANDATORY_KEYS), as bits. */
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

/** Decodes a common frame, or returns undefined for the general decoder to handle it. */
export function decodeRequestFast(frame: Uint8Array): DecodedRequest | undefined {
  bytes = frame;
  at = 0;
  try {
    return decodeFrame();
  } finally {
    // Drop the references so a frame (and the read buffer behind it) is not kept alive.
    bytes = EMPTY;
    key = tuple = ops = EMPTY_ARRAY;
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_ARRAY: MpValue[] = [];

function decodeFrame(): DecodedRequest | undefined {
  const header = readHeader();
  if (header === GIVE_UP) return undefined;
  const type = header.type;
  if (at === bytes.length) {
    // Without a body only PING is served as is; DML would be "missing field", for the general path.
    return type === RequestType.PING ? { ok: true, header, request: { kind: 'ping' } } : undefined;
  }
  const mandatory = mandatoryBits(type);
  if (mandatory < 0 || !readDmlBody() || at !== bytes.length || (seen & mandatory) !== mandatory) return undefined;
  const request = buildDml(type);
  return request === undefined ? undefined : { ok: true, header, request };
}

/** A fixmap header with fixint keys 0x00-0x0a holding uints (0x04, a double, gives up). */
function readHeader(): Read<RequestHeader> {
  if (at >= bytes.length) return GIVE_UP;
  const first = bytes[at++]!;
  if ((first & 0xf0) !== 0x80) return GIVE_UP;
  let type = 0;
  let sync = 0;
  let schemaVersion = 0;
  let streamId = 0;
  for (let i = first & 0x0f; i > 0; i--) {
    if (at >= bytes.length) return GIVE_UP;
    const headerKey = bytes[at++]!;
    if (headerKey > 0x0a || headerKey === 0x04) return GIVE_UP;
    const value = readUint();
    if (value < 0) return GIVE_UP;
    // Tarantool keeps the low byte of the type and 32 bits of versions and ids (see request.ts).
    if (headerKey === 0x00) type = value % 0x100;
    else if (headerKey === 0x01) sync = value;
    else if (headerKey === 0x05) schemaVersion = value % 0x100000000;
    else if (headerKey === 0x0a) streamId = value % 0x100000000;
  }
  return { type, sync, schemaVersion, streamId };
}

/** Reads a fixmap body of DML keys into the module fields; false to give up. */
function readDmlBody(): boolean {
  spaceId = indexId = limit = offset = iterator = indexBase = 0;
  key = tuple = ops = EMPTY_ARRAY;
  seen = 0;
  const first = bytes[at++]!;
  if ((first & 0xf0) !== 0x80) return false;
  for (let i = first & 0x0f; i > 0; i--) {
    if (at >= bytes.length) return false;
    const bodyKey = bytes[at++]!;
    const mask = bit(bodyKey);
    if (bodyKey >= BodyKey.SPACE_ID && bodyKey <= BodyKey.INDEX_BASE) {
      if ((seen & mask) !== 0) return false;
      const value = readUint();
      if (value < 0) return false;
      setUintField(bodyKey, value % 0x100000000);
    } else if (bodyKey === BodyKey.KEY || bodyKey === BodyKey.TUPLE || bodyKey === BodyKey.OPS) {
      if ((seen & mask) !== 0 || at >= bytes.length || !isArrayByte(bytes[at]!)) return false;
      const value = readValue(0);
      if (value === GIVE_UP) return false;
      if (bodyKey === BodyKey.KEY) key = value as MpValue[];
      else if (bodyKey === BodyKey.TUPLE) tuple = value as MpValue[];
      else ops = value as MpValue[];
    } else {
      return false;
    }
    seen |= mask;
  }
  return true;
}

function setUintField(bodyKey: number, value: number): void {
  switch (bodyKey) {
    case BodyKey.SPACE_ID:
      spaceId = value;
      break;
    case BodyKey.INDEX_ID:
      indexId = value;
      break;
    case BodyKey.LIMIT:
      limit = value;
      break;
    case BodyKey.OFFSET:
      offset = value;
      break;
    case BodyKey.ITERATOR:
      iterator = value;
      break;
    default:
      indexBase = value;
  }
}

/** The request objects the general decoder builds (same fields, same order). */
function buildDml(type: number): Request | undefined {
  switch (type) {
    case RequestType.SELECT:
      if (iterator > ITERATOR_CODE_MAX) return undefined;
      return { kind: 'select', spaceId, indexId, limit, offset, iterator: iterator as IteratorCode, key };
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

function isArrayByte(t: number): boolean {
  return (t & 0xf0) === 0x90 || t === 0xdc || t === 0xdd;
}

/** An MP_UINT up to 2^53 - 1, or -1 (another type, truncated, or too large for a number). */
function readUint(): number {
  const b = bytes;
  const length = b.length;
  if (at >= length) return -1;
  const t = b[at]!;
  if (t < 0x80) {
    at++;
    return t;
  }
  switch (t) {
    case 0xcc:
      if (at + 2 > length) return -1;
      at += 2;
      return b[at - 1]!;
    case 0xcd:
      if (at + 3 > length) return -1;
      at += 3;
      return (b[at - 2]! << 8) | b[at - 1]!;
    case 0xce:
      if (at + 5 > length) return -1;
      at += 5;
      return u32(b, at - 4);
    case 0xcf: {
      if (at + 9 > length) return -1;
      const high = u32(b, at + 1);
      if (high >= 0x200000) return -1;
      at += 9;
      return high * 0x100000000 + u32(b, at - 4);
    }
    default:
      return -1;
  }
}

function u32(b: Uint8Array, i: number): number {
  return b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
}

/**
 * One msgpack value, as MpReader#value would decode it: the common kinds here, the rest by
 * MpReader itself. GIVE_UP where the bytes run out or MpReader would throw.
 */
function readValue(depth: number): Read<MpValue> {
  if (depth > MSGPACK_DEPTH_MAX || at >= bytes.length) return GIVE_UP;
  const t = bytes[at]!;
  if (t < 0x80) {
    at++;
    return t;
  }
  if (t >= 0xe0) {
    at++;
    return t - 0x100;
  }
  if ((t & 0xf0) === 0x90) {
    at++;
    return readArray(t & 0x0f, depth);
  }
  if ((t & 0xe0) === 0xa0) return readAscii(1, t & 0x1f, depth);
  switch (t) {
    case 0xc0:
      at++;
      return null;
    case 0xc2:
      at++;
      return false;
    case 0xc3:
      at++;
      return true;
    case 0xcc:
    case 0xcd:
    case 0xce: {
      const value = readUint();
      return value < 0 ? GIVE_UP : value;
    }
    case 0xd0:
      if (at + 2 > bytes.length) return GIVE_UP;
      at += 2;
      return (bytes[at - 1]! << 24) >> 24;
    case 0xd1:
      if (at + 3 > bytes.length) return GIVE_UP;
      at += 3;
      return (((bytes[at - 2]! << 8) | bytes[at - 1]!) << 16) >> 16;
    case 0xd2:
      if (at + 5 > bytes.length) return GIVE_UP;
      at += 5;
      return u32(bytes, at - 4) | 0;
    case 0xd9:
      if (at + 2 > bytes.length) return GIVE_UP;
      return readAscii(2, bytes[at + 1]!, depth);
    case 0xdc:
      if (at + 3 > bytes.length) return GIVE_UP;
      at += 3;
      return readArray((bytes[at - 2]! << 8) | bytes[at - 1]!, depth);
    default:
      return readByMpReader(depth);
  }
}

function readArray(count: number, depth: number): Read<MpValue[]> {
  // Every element takes a byte at least: a longer count cannot be well-formed (MpReader's check).
  if (count > bytes.length - at) return GIVE_UP;
  const out = new Array<MpValue>(count);
  for (let i = 0; i < count; i++) {
    const item = readValue(depth + 1);
    if (item === GIVE_UP) return GIVE_UP;
    out[i] = item;
  }
  return out;
}

/** A string whose `headBytes` type bytes are at `at`: ASCII here, anything else by MpReader. */
function readAscii(headBytes: number, length: number, depth: number): Read<MpValue> {
  const start = at + headBytes;
  const end = start + length;
  if (end > bytes.length) return GIVE_UP;
  let out = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c > 0x7f) return readByMpReader(depth);
    out += String.fromCharCode(c);
  }
  at = end;
  return out;
}

function readByMpReader(depth: number): Read<MpValue> {
  const reader = new MpReader(bytes, at);
  try {
    const value = reader.value(depth);
    at = reader.offset;
    return value;
  } catch (error) {
    if (error instanceof MsgpackError) return GIVE_UP;
    throw error;
  }
}
