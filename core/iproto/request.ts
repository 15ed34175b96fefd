/**
 * Decoding of one iproto request frame (header map + optional body, without the length prefix)
 * into a typed request, validated the way Tarantool does it (measured against Tarantool 2.6 by
 * test/iproto/differential.test.ts):
 * - the header must be one complete map (else "packet header" with sync 0); its keys must be
 *   integers below IPROTO_KEY_LIMIT whose values have the key's wire type (else "packet header",
 *   echoing the sync if it was read before the bad key);
 * - a body must be exactly one msgpack value (else "packet body"); requests that read fields need
 *   a map; DML bodies skip keys they do not read, CALL/EVAL/AUTH bodies refuse non-integer keys;
 *   a read key with the wrong wire type (a float space id, a string key) is "packet body";
 * - a missing mandatory field is MISSING_REQUEST_FIELD naming the first missing key;
 * - an unknown type is UNKNOWN_REQUEST_TYPE, whatever its body.
 * One deliberate difference: values are decoded by core/codec, which refuses the unused type byte
 * 0xc1 that msgpuck lets through inside tuples; such packets are answered "packet body".
 */

import { MpReader, MsgpackError, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { fromUtf8 } from '../lib/bytes.ts';
import { BodyKey, BODY_KEY_NAMES, ErrorCode, HeaderKey, ITERATOR_CODE_MAX, RequestType, type IteratorCode } from './constants.ts';
import { IprotoError, iprotoError } from './errors.ts';
import { mpCheck } from './mp-check.ts';
import { decodeRequestFast } from './request-fast.ts';
import { mpTypeOf, type MpType } from './mp-type.ts';

/** A request's sync id: echoed in its reply. uint64 on the wire; bigint beyond 2^53. */
export type Sync = number | bigint;

export interface SelectRequest {
  readonly kind: 'select';
  readonly spaceId: number;
  readonly indexId: number;
  readonly limit: number;
  readonly offset: number;
  readonly iterator: IteratorCode;
  readonly key: MpValue[];
}
export interface InsertRequest {
  readonly kind: 'insert' | 'replace';
  readonly spaceId: number;
  readonly tuple: MpValue[];
}
export interface UpdateRequest {
  readonly kind: 'update';
  readonly spaceId: number;
  readonly indexId: number;
  readonly key: MpValue[];
  /** Update operations `[op, field, arg...]`; field numbers count from `indexBase`. */
  readonly ops: MpValue[];
  /** 0 for raw iproto and tarantool-driver, 1 for net.box. */
  readonly indexBase: number;
}
export interface DeleteRequest {
  readonly kind: 'delete';
  readonly spaceId: number;
  readonly indexId: number;
  readonly key: MpValue[];
}
export interface UpsertRequest {
  readonly kind: 'upsert';
  readonly spaceId: number;
  readonly tuple: MpValue[];
  readonly ops: MpValue[];
  readonly indexBase: number;
}
export interface CallRequest {
  /** `call` = CALL (1.7+ semantics: results verbatim); `call16` = CALL_16 (results tuple-shaped). */
  readonly kind: 'call' | 'call16';
  readonly functionName: string;
  readonly args: MpValue[];
}
export interface EvalRequest {
  readonly kind: 'eval';
  readonly expr: string;
  readonly args: MpValue[];
}
export interface ExecuteRequest {
  readonly kind: 'execute' | 'prepare';
  /** Exactly one of sqlText and stmtId is set. */
  readonly sqlText: string | undefined;
  readonly stmtId: number | undefined;
  readonly bind: MpValue[];
}
export interface AuthRequest {
  readonly kind: 'auth';
  readonly user: string;
  /** Elements in the `[mechanism, scramble]` tuple; 0 lets a client switch back to guest. */
  readonly partCount: number;
  readonly mechanism: string | undefined;
  /** Raw bytes of the scramble (an MP_STR of arbitrary bytes, or MP_BIN). */
  readonly scramble: Uint8Array | undefined;
}
export interface SimpleRequest {
  /** Requests whose body is never read (ID included: this server does not negotiate features). */
  readonly kind: 'ping' | 'nop' | 'begin' | 'commit' | 'rollback' | 'id';
}

export type Request =
  | SelectRequest
  | InsertRequest
  | UpdateRequest
  | DeleteRequest
  | UpsertRequest
  | CallRequest
  | EvalRequest
  | ExecuteRequest
  | AuthRequest
  | SimpleRequest;
export type RequestKind = Request['kind'];

export interface RequestHeader {
  readonly type: number;
  readonly sync: Sync;
  /** 0 when the client did not send one (no check). */
  readonly schemaVersion: number;
  readonly streamId: number;
}

export type DecodedRequest =
  | { readonly ok: true; readonly header: RequestHeader; readonly request: Request }
  | { readonly ok: false; readonly sync: Sync; readonly error: IprotoError };

/** Where a body field's value lies in the frame, and its wire type. */
interface Field {
  readonly type: MpType;
  readonly start: number;
  readonly end: number;
}
type Fields = Map<number, Field>;

/** Keys at or above this are refused in a header (Tarantool 2.6's IPROTO_KEY_MAX). */
const IPROTO_KEY_LIMIT = 0x53;

/**
 * The wire type Tarantool requires for each key below IPROTO_KEY_LIMIT, in headers and in DML
 * bodies (its `iproto_key_type` table; unassigned keys require nil). Measured key by key against
 * Tarantool 2.6.
 */
const KEY_TYPES: readonly MpType[] = Array.from({ length: IPROTO_KEY_LIMIT }, (_, key): MpType => {
  if (key === HeaderKey.TIMESTAMP) return 'double';
  if (key < 0x20) return 'uint';
  if (key === 0x20 || key === 0x21 || key === 0x28) return 'array';
  if ((key >= 0x22 && key <= 0x25) || key === 0x27) return 'str';
  if (key === 0x26 || (key >= 0x29 && key <= 0x2b)) return 'map';
  return 'nil';
});

/**
 * Keys a DML body reads (space, index, limit, offset, iterator, index base, key, tuple, ops,
 * tuple meta), as a 64-bit set. Tarantool tests `1 << key` for any key byte below
 * IPROTO_KEY_LIMIT, and the shift wraps at 64, so 0x50-0x52 alias 0x10-0x12 and are checked too.
 */
const DML_KEY_BITS = new Set([0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x28, 0x2a]);

const DML_TYPES: ReadonlySet<number> = new Set<number>([
  RequestType.SELECT, RequestType.INSERT, RequestType.REPLACE, RequestType.UPDATE, RequestType.DELETE, RequestType.UPSERT,
]);
const CALL_TYPES: ReadonlySet<number> = new Set<number>([RequestType.CALL, RequestType.CALL_16, RequestType.EVAL]);
const SQL_TYPES: ReadonlySet<number> = new Set<number>([RequestType.EXECUTE, RequestType.PREPARE]);
/** Types whose body Tarantool never reads. */
const BODYLESS_KINDS: ReadonlyMap<number, SimpleRequest['kind']> = new Map<number, SimpleRequest['kind']>([
  [RequestType.PING, 'ping'],
  [RequestType.NOP, 'nop'],
  [RequestType.BEGIN, 'begin'],
  [RequestType.COMMIT, 'commit'],
  [RequestType.ROLLBACK, 'rollback'],
  [RequestType.ID, 'id'],
]);

/** Typed body keys of CALL/EVAL and AUTH bodies; other integer keys are skipped. */
const CALL_KEY_TYPES: ReadonlyMap<number, MpType> = new Map<number, MpType>([
  [BodyKey.FUNCTION_NAME, 'str'], [BodyKey.EXPR, 'str'], [BodyKey.TUPLE, 'array'],
]);
const AUTH_KEY_TYPES: ReadonlyMap<number, MpType> = new Map<number, MpType>([[BodyKey.USER_NAME, 'str'], [BodyKey.TUPLE, 'array']]);
const SQL_KEY_TYPES: ReadonlyMap<number, MpType> = new Map<number, MpType>([
  [BodyKey.SQL_TEXT, 'str'], [BodyKey.SQL_BIND, 'array'], [BodyKey.STMT_ID, 'uint'],
]);

/**
 * Mandatory body keys per request type, in the order Tarantool reports them: the DML key bitmap
 * yields the lowest missing key; AUTH checks its fields one by one.
 */
const MANDATORY_KEYS: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  [RequestType.SELECT, [BodyKey.SPACE_ID, BodyKey.LIMIT, BodyKey.KEY]],
  [RequestType.INSERT, [BodyKey.SPACE_ID, BodyKey.TUPLE]],
  [RequestType.REPLACE, [BodyKey.SPACE_ID, BodyKey.TUPLE]],
  [RequestType.UPDATE, [BodyKey.SPACE_ID, BodyKey.KEY, BodyKey.TUPLE]],
  [RequestType.DELETE, [BodyKey.SPACE_ID, BodyKey.KEY]],
  [RequestType.UPSERT, [BodyKey.SPACE_ID, BodyKey.TUPLE, BodyKey.OPS]],
  // Arguments are optional for CALL/EVAL: Tarantool substitutes an empty array.
  [RequestType.CALL, [BodyKey.FUNCTION_NAME]],
  [RequestType.CALL_16, [BodyKey.FUNCTION_NAME]],
  [RequestType.EVAL, [BodyKey.EXPR]],
  [RequestType.AUTH, [BodyKey.USER_NAME, BodyKey.TUPLE]],
]);

class HeaderError extends Error {}

const packetBody = (): IprotoError => iprotoError(ErrorCode.INVALID_MSGPACK, 'packet body');

/**
 * Decodes one frame. Never throws on malformed input: every failure is an `ok: false` result.
 * The common frames take the fast path (request-fast.ts), which agrees with the general decoder
 * below or leaves the frame to it.
 */
export function decodeRequest(frame: Uint8Array): DecodedRequest {
  return decodeRequestFast(frame) ?? decodeRequestGeneral(frame);
}

/** The general decoder: every frame, every rule (exported for the fast path's tests). */
export function decodeRequestGeneral(frame: Uint8Array): DecodedRequest {
  const headerEnd = mpCheck(frame, 0);
  const partial = { sync: 0 as Sync };
  let header: RequestHeader;
  try {
    // The whole header must be well-formed before any key is read (so a truncated header
    // answers with sync 0, as Tarantool does).
    if (headerEnd === undefined || mpTypeOf(frame[0]!) !== 'map') throw new HeaderError();
    header = readHeader(frame, headerEnd, partial);
  } catch (error) {
    if (!(error instanceof HeaderError || error instanceof MsgpackError)) throw error;
    return { ok: false, sync: partial.sync, error: iprotoError(ErrorCode.INVALID_MSGPACK, 'packet header') };
  }
  try {
    const bodyEnd = headerEnd === frame.length ? undefined : mpCheck(frame, headerEnd);
    // NOP may not carry a body at all; any body must be exactly one value.
    if (headerEnd < frame.length && (header.type === RequestType.NOP || bodyEnd !== frame.length)) throw packetBody();
    const request = buildRequest(header.type, frame, bodyEnd === undefined ? undefined : headerEnd);
    return { ok: true, header, request };
  } catch (error) {
    if (error instanceof IprotoError) return { ok: false, sync: header.sync, error };
    if (error instanceof MsgpackError) return { ok: false, sync: header.sync, error: packetBody() };
    throw error;
  }
}

/**
 * Reads header keys in order: each must be an integer below IPROTO_KEY_LIMIT whose value has the
 * key's wire type. The sync is recorded as soon as it is read, so later errors can carry it.
 */
function readHeader(frame: Uint8Array, headerEnd: number, partial: { sync: Sync }): RequestHeader {
  const reader = new MpReader(frame, 0, headerEnd);
  const count = reader.mapHeader();
  let type = 0;
  let schemaVersion = 0;
  let streamId = 0;
  for (let i = 0; i < count; i++) {
    if (mpTypeOf(reader.peek()) !== 'uint') throw new HeaderError();
    const key = reader.value();
    if (typeof key !== 'number' || key >= IPROTO_KEY_LIMIT) throw new HeaderError();
    if (mpTypeOf(reader.peek()) !== KEY_TYPES[key]) throw new HeaderError();
    if (key === HeaderKey.SYNC) partial.sync = reader.value() as Sync;
    // Tarantool 2.6 keeps only the low byte of the type (`289` is reported as type 33).
    else if (key === HeaderKey.REQUEST_TYPE) type = Number(BigInt.asUintN(8, BigInt(reader.value() as number | bigint)));
    else if (key === HeaderKey.SCHEMA_VERSION) schemaVersion = uint32(reader.value());
    else if (key === HeaderKey.STREAM_ID) streamId = uint32(reader.value());
    else reader.offset = mpCheck(frame, reader.offset, headerEnd)!;
  }
  return { type, sync: partial.sync, schemaVersion, streamId };
}

/** Tarantool stores ids, limits and versions in uint32 fields: wider values wrap. */
function uint32(value: MpValue): number {
  if (typeof value === 'bigint') return Number(BigInt.asUintN(32, value));
  return (value as number) % 0x100000000;
}

function buildRequest(type: number, frame: Uint8Array, bodyStart: number | undefined): Request {
  const simple = BODYLESS_KINDS.get(type);
  if (simple !== undefined) return { kind: simple };
  if (type !== RequestType.AUTH && !DML_TYPES.has(type) && !CALL_TYPES.has(type) && !SQL_TYPES.has(type)) {
    throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, type);
  }
  if (bodyStart === undefined && !DML_TYPES.has(type)) throw iprotoError(ErrorCode.INVALID_MSGPACK, 'missing request body');
  const fields = bodyStart === undefined ? new Map<number, Field>() : readFields(type, frame, bodyStart);
  const missing = MANDATORY_KEYS.get(type)?.find((key) => !fields.has(key));
  if (missing !== undefined) throw iprotoError(ErrorCode.MISSING_REQUEST_FIELD, BODY_KEY_NAMES[missing]!);
  const body = new BodyView(frame, fields);
  if (DML_TYPES.has(type)) return buildDml(type, body);
  if (CALL_TYPES.has(type)) return buildCall(type, body);
  if (type === RequestType.AUTH) return buildAuth(body);
  return buildExecute(type, body);
}

/** Reads the body map's fields with the rules of the request's family. */
function readFields(type: number, frame: Uint8Array, bodyStart: number): Fields {
  if (mpTypeOf(frame[bodyStart]!) !== 'map') throw packetBody();
  const reader = new MpReader(frame, bodyStart);
  const count = reader.mapHeader();
  const fields: Fields = new Map();
  for (let i = 0; i < count; i++) {
    const key = readKey(type, frame, reader);
    const start = reader.offset;
    const end = mpCheck(frame, start)!;
    reader.offset = end;
    if (key === undefined) continue;
    const valueType = mpTypeOf(frame[start]!);
    if (valueType !== expectedType(type, key)) throw packetBody();
    fields.set(key, { type: valueType, start, end });
  }
  return fields;
}

/**
 * The body key the request reads, or undefined for a key to skip (its bytes consumed).
 * DML and SQL bodies look at the key's first byte only; CALL/EVAL/AUTH bodies require every key
 * to be an integer and refuse the packet otherwise.
 */
function readKey(type: number, frame: Uint8Array, reader: MpReader): number | undefined {
  const first = frame[reader.offset]!;
  if (DML_TYPES.has(type) || SQL_TYPES.has(type)) {
    reader.offset = mpCheck(frame, reader.offset)!;
    if (SQL_TYPES.has(type)) return SQL_KEY_TYPES.has(first) ? first : undefined;
    return first < IPROTO_KEY_LIMIT && DML_KEY_BITS.has(first % 64) ? first : undefined;
  }
  if (mpTypeOf(first) !== 'uint') throw packetBody();
  const key = reader.value();
  const known = type === RequestType.AUTH ? AUTH_KEY_TYPES : CALL_KEY_TYPES;
  return typeof key === 'number' && known.has(key) ? key : undefined;
}

function expectedType(type: number, key: number): MpType {
  if (type === RequestType.AUTH) return AUTH_KEY_TYPES.get(key)!;
  if (CALL_TYPES.has(type)) return CALL_KEY_TYPES.get(key)!;
  if (SQL_TYPES.has(type)) return SQL_KEY_TYPES.get(key)!;
  return KEY_TYPES[key]!;
}

function buildDml(type: number, body: BodyView): Request {
  switch (type) {
    case RequestType.SELECT:
      return buildSelect(body);
    case RequestType.INSERT:
    case RequestType.REPLACE:
      return { kind: type === RequestType.INSERT ? 'insert' : 'replace', spaceId: body.uint(BodyKey.SPACE_ID), tuple: body.array(BodyKey.TUPLE) };
    case RequestType.UPDATE:
      return {
        kind: 'update',
        spaceId: body.uint(BodyKey.SPACE_ID),
        indexId: body.uint(BodyKey.INDEX_ID),
        key: body.array(BodyKey.KEY),
        ops: body.array(BodyKey.TUPLE), // UPDATE carries its operations in TUPLE (0x21), not OPS
        indexBase: body.uint(BodyKey.INDEX_BASE),
      };
    case RequestType.DELETE:
      return { kind: 'delete', spaceId: body.uint(BodyKey.SPACE_ID), indexId: body.uint(BodyKey.INDEX_ID), key: body.array(BodyKey.KEY) };
    default:
      return {
        kind: 'upsert',
        spaceId: body.uint(BodyKey.SPACE_ID),
        tuple: body.array(BodyKey.TUPLE),
        ops: body.array(BodyKey.OPS),
        indexBase: body.uint(BodyKey.INDEX_BASE),
      };
  }
}

function buildSelect(body: BodyView): SelectRequest {
  const iterator = body.uint(BodyKey.ITERATOR);
  // Tarantool's box_select refuses a code past NEIGHBOR before it looks at anything else.
  if (iterator > ITERATOR_CODE_MAX) throw iprotoError(ErrorCode.ILLEGAL_PARAMS, 'Invalid iterator type');
  return {
    kind: 'select',
    spaceId: body.uint(BodyKey.SPACE_ID),
    indexId: body.uint(BodyKey.INDEX_ID),
    limit: body.uint(BodyKey.LIMIT),
    offset: body.uint(BodyKey.OFFSET),
    iterator: iterator as IteratorCode,
    key: body.array(BodyKey.KEY),
  };
}

function buildCall(type: number, body: BodyView): CallRequest | EvalRequest {
  const args = body.array(BodyKey.TUPLE);
  if (type === RequestType.EVAL) return { kind: 'eval', expr: body.str(BodyKey.EXPR), args };
  return { kind: type === RequestType.CALL ? 'call' : 'call16', functionName: body.str(BodyKey.FUNCTION_NAME), args };
}

function buildExecute(type: number, body: BodyView): ExecuteRequest {
  const sqlText = body.has(BodyKey.SQL_TEXT) ? body.str(BodyKey.SQL_TEXT) : undefined;
  const stmtId = body.has(BodyKey.STMT_ID) ? body.uint(BodyKey.STMT_ID) : undefined;
  if (sqlText !== undefined && stmtId !== undefined) {
    throw iprotoError(ErrorCode.INVALID_MSGPACK, 'SQL text and statement id are incompatible options in one request: choose one');
  }
  if (sqlText === undefined && stmtId === undefined) throw iprotoError(ErrorCode.MISSING_REQUEST_FIELD, 'SQL text or stmt id');
  const kind = type === RequestType.EXECUTE ? 'execute' : 'prepare';
  return { kind, sqlText, stmtId, bind: body.array(BodyKey.SQL_BIND) };
}

function buildAuth(body: BodyView): AuthRequest {
  // Read from raw bytes: the scramble is an MP_STR of arbitrary bytes that UTF-8 would mangle.
  const user = fromUtf8(body.reader(BodyKey.USER_NAME).strBytes());
  const reader = body.reader(BodyKey.TUPLE);
  const partCount = reader.arrayHeader();
  let mechanism: string | undefined;
  let scramble: Uint8Array | undefined;
  if (partCount >= 1) {
    const isString = mpTypeOf(reader.peek()) === 'str';
    mechanism = isString ? fromUtf8(reader.strBytes()) : undefined;
    if (!isString) reader.offset = mpCheck(reader.bytes, reader.offset)!;
  }
  if (partCount >= 2) {
    const type = mpTypeOf(reader.peek());
    if (type !== 'str' && type !== 'bin') throw iprotoError(ErrorCode.INVALID_MSGPACK, 'authentication scramble');
    scramble = reader.strBytes().slice();
  }
  return { kind: 'auth', user, partCount, mechanism, scramble };
}

/** Typed access to the body fields (their wire types were checked by readFields). */
class BodyView {
  private readonly frame: Uint8Array;
  private readonly fields: Fields;
  constructor(frame: Uint8Array, fields: Fields) {
    this.frame = frame;
    this.fields = fields;
  }

  has(key: number): boolean {
    return this.fields.has(key);
  }

  reader(key: number): MpReader {
    const field = this.fields.get(key);
    assert(field !== undefined, () => `body key ${key} must be present`);
    return new MpReader(this.frame, field.start, field.end);
  }

  /** An MP_UINT field (0 when absent), wrapped to uint32 as Tarantool stores it. */
  uint(key: number): number {
    return this.fields.has(key) ? uint32(this.reader(key).value()) : 0;
  }

  /** An MP_ARRAY field ([] when absent); values Tarantool would accept but we cannot decode are "packet body". */
  array(key: number): MpValue[] {
    return this.fields.has(key) ? (this.reader(key).value() as MpValue[]) : [];
  }

  str(key: number): string {
    return this.reader(key).value() as string;
  }
}
