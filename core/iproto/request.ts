/**
 * Decoding of one iproto request frame (header map + optional body map, without the length
 * prefix) into a typed request, with Tarantool's validation:
 * - the header must be a map with integer keys and correctly typed known values, else
 *   INVALID_MSGPACK "packet header";
 * - the body, when present, must be one valid map and nothing may follow it, else
 *   INVALID_MSGPACK "packet body"; non-integer body keys are skipped, known keys must have their
 *   wire type (an MP_UINT space id, an MP_ARRAY key, an MP_STR function name);
 * - a missing mandatory field is MISSING_REQUEST_FIELD naming the lowest missing key, as
 *   Tarantool's key bitmap reports it;
 * - an unknown type is UNKNOWN_REQUEST_TYPE.
 * The header's sync is returned with every error once it has been read, so the client can match
 * the error to its request.
 */

import { MpReader, MsgpackError, type MpValue } from '../codec/msgpack.ts';
import { fromUtf8 } from '../lib/bytes.ts';
import { BodyKey, BODY_KEY_NAMES, ErrorCode, HeaderKey, ITERATOR_CODE_MAX, RequestType, type IteratorCode } from './constants.ts';
import { IprotoError, iprotoError } from './errors.ts';
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
export interface IdRequest {
  readonly kind: 'id';
  readonly version: number;
  readonly features: number[];
}
export interface SimpleRequest {
  readonly kind: 'ping' | 'nop' | 'begin' | 'commit' | 'rollback';
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
  | IdRequest
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

/** Body values by key, after wire-type checks. */
type Body = Map<number, { readonly type: MpType; readonly value: MpValue; readonly raw: Uint8Array }>;

/** Wire types of the body keys this decoder reads (Tarantool's `iproto_key_type`). */
const BODY_KEY_TYPES: ReadonlyMap<number, MpType> = new Map<number, MpType>([
  [BodyKey.SPACE_ID, 'uint'],
  [BodyKey.INDEX_ID, 'uint'],
  [BodyKey.LIMIT, 'uint'],
  [BodyKey.OFFSET, 'uint'],
  [BodyKey.ITERATOR, 'uint'],
  [BodyKey.INDEX_BASE, 'uint'],
  [BodyKey.KEY, 'array'],
  [BodyKey.TUPLE, 'array'],
  [BodyKey.FUNCTION_NAME, 'str'],
  [BodyKey.USER_NAME, 'str'],
  [BodyKey.EXPR, 'str'],
  [BodyKey.OPS, 'array'],
  [BodyKey.OPTIONS, 'array'],
  [BodyKey.SQL_TEXT, 'str'],
  [BodyKey.SQL_BIND, 'array'],
  [BodyKey.STMT_ID, 'uint'],
  [BodyKey.VERSION, 'uint'],
  [BodyKey.FEATURES, 'array'],
]);

const NOT_A_MAP = 'not-a-map' as const;

/** Types whose body Tarantool never reads. */
const BODYLESS_TYPES: ReadonlySet<number> = new Set<number>([
  RequestType.PING,
  RequestType.NOP,
  RequestType.BEGIN,
  RequestType.COMMIT,
  RequestType.ROLLBACK,
]);

const KNOWN_TYPES: ReadonlySet<number> = new Set<number>([
  RequestType.SELECT, RequestType.INSERT, RequestType.REPLACE, RequestType.UPDATE, RequestType.DELETE,
  RequestType.CALL_16, RequestType.AUTH, RequestType.EVAL, RequestType.UPSERT, RequestType.CALL,
  RequestType.EXECUTE, RequestType.PREPARE, RequestType.ID, ...BODYLESS_TYPES,
]);

/** Header keys whose value must be an MP_UINT. */
const HEADER_UINT_KEYS: ReadonlySet<number> = new Set<number>([
  HeaderKey.REQUEST_TYPE,
  HeaderKey.SYNC,
  HeaderKey.REPLICA_ID,
  HeaderKey.LSN,
  HeaderKey.SCHEMA_VERSION,
  HeaderKey.GROUP_ID,
  HeaderKey.TSN,
  HeaderKey.FLAGS,
  HeaderKey.STREAM_ID,
]);

/**
 * Mandatory body keys per request type, in the order Tarantool reports them: the DML key bitmap
 * yields the lowest missing key; CALL/EVAL/AUTH check their fields one by one.
 */
const MANDATORY_KEYS: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  [RequestType.SELECT, [BodyKey.SPACE_ID, BodyKey.LIMIT, BodyKey.KEY]],
  [RequestType.INSERT, [BodyKey.SPACE_ID, BodyKey.TUPLE]],
  [RequestType.REPLACE, [BodyKey.SPACE_ID, BodyKey.TUPLE]],
  [RequestType.UPDATE, [BodyKey.SPACE_ID, BodyKey.KEY, BodyKey.TUPLE]],
  [RequestType.DELETE, [BodyKey.SPACE_ID, BodyKey.KEY]],
  [RequestType.UPSERT, [BodyKey.SPACE_ID, BodyKey.TUPLE, BodyKey.OPS]],
  // Arguments are optional for CALL/EVAL: Tarantool 2.x substitutes an empty array.
  [RequestType.CALL, [BodyKey.FUNCTION_NAME]],
  [RequestType.CALL_16, [BodyKey.FUNCTION_NAME]],
  [RequestType.EVAL, [BodyKey.EXPR]],
  [RequestType.AUTH, [BodyKey.USER_NAME, BodyKey.TUPLE]],
]);

class HeaderError extends Error {}

/** Decodes one frame. Never throws on malformed input: every failure is an `ok: false` result. */
export function decodeRequest(frame: Uint8Array): DecodedRequest {
  const reader = new MpReader(frame);
  const partial = { sync: 0 as Sync };
  let header: RequestHeader;
  try {
    header = readHeader(reader, partial);
  } catch (error) {
    if (error instanceof MsgpackError || error instanceof HeaderError) {
      return { ok: false, sync: partial.sync, error: iprotoError(ErrorCode.INVALID_MSGPACK, 'packet header') };
    }
    throw error;
  }
  try {
    const body = readBody(reader);
    if (body === NOT_A_MAP && !BODYLESS_TYPES.has(header.type)) {
      if (!KNOWN_TYPES.has(header.type)) throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, header.type);
      throw iprotoError(ErrorCode.INVALID_MSGPACK, 'packet body');
    }
    const request = buildRequest(header.type, body === NOT_A_MAP ? new Map() : body);
    return { ok: true, header, request };
  } catch (error) {
    if (error instanceof IprotoError) return { ok: false, sync: header.sync, error };
    if (error instanceof MsgpackError) {
      return { ok: false, sync: header.sync, error: iprotoError(ErrorCode.INVALID_MSGPACK, 'packet body') };
    }
    throw error;
  }
}

function readHeader(reader: MpReader, partial: { sync: Sync }): RequestHeader {
  if (reader.done || mpTypeOf(reader.peek()) !== 'map') throw new HeaderError();
  const count = reader.mapHeader();
  let type = 0;
  let schemaVersion = 0;
  let streamId = 0;
  for (let i = 0; i < count; i++) {
    if (mpTypeOf(reader.peek()) !== 'uint') throw new HeaderError();
    const key = reader.value();
    const valueType = mpTypeOf(reader.peek());
    const value = reader.value();
    if (HEADER_UINT_KEYS.has(key as number) && valueType !== 'uint') throw new HeaderError();
    if (key === HeaderKey.TIMESTAMP && valueType !== 'float') throw new HeaderError();
    if (key === HeaderKey.SYNC) partial.sync = value as Sync;
    else if (key === HeaderKey.REQUEST_TYPE) type = clampUint(value);
    else if (key === HeaderKey.SCHEMA_VERSION) schemaVersion = clampUint(value);
    else if (key === HeaderKey.STREAM_ID) streamId = clampUint(value);
  }
  return { type, sync: partial.sync, schemaVersion, streamId };
}

/** uint64 header values beyond 2^53 cannot be valid types or versions: map them out of range. */
function clampUint(value: MpValue): number {
  return typeof value === 'number' ? value : Number.MAX_SAFE_INTEGER;
}

/**
 * Reads the body's fields. The body must be one valid msgpack value with nothing after it; that
 * it is a map matters only to requests that read fields (Tarantool ignores a PING's body), so a
 * non-map body comes back as NOT_A_MAP and the request builder decides.
 */
function readBody(reader: MpReader): Body | typeof NOT_A_MAP {
  const body: Body = new Map();
  if (reader.done) return body;
  const start = reader.offset;
  reader.skip();
  if (!reader.done) throw new MsgpackError('trailing bytes after the body');
  reader.offset = start;
  if (mpTypeOf(reader.peek()) !== 'map') return NOT_A_MAP;
  const count = reader.mapHeader();
  for (let i = 0; i < count; i++) {
    if (mpTypeOf(reader.peek()) !== 'uint') {
      reader.skip();
      reader.skip();
      continue;
    }
    const key = reader.value() as number;
    const type = mpTypeOf(reader.peek());
    const expected = BODY_KEY_TYPES.get(key);
    if (expected === undefined) {
      reader.skip();
      continue;
    }
    if (type !== expected) throw new MsgpackError(`body key ${key} has type ${type}`);
    const valueStart = reader.offset;
    const value = key === BodyKey.TUPLE || key === BodyKey.USER_NAME ? null : reader.value();
    if (value === null) reader.skip();
    body.set(key, { type, value, raw: reader.bytes.subarray(valueStart, reader.offset) });
  }
  return body;
}

function checkMandatory(type: number, body: Body): void {
  const keys = MANDATORY_KEYS.get(type);
  if (keys === undefined) return;
  const missing = keys.find((key) => !body.has(key));
  if (missing !== undefined) throw iprotoError(ErrorCode.MISSING_REQUEST_FIELD, BODY_KEY_NAMES[missing]!);
}

function buildRequest(type: number, body: Body): Request {
  checkMandatory(type, body);
  switch (type) {
    case RequestType.SELECT:
      return buildSelect(body);
    case RequestType.INSERT:
    case RequestType.REPLACE:
      return { kind: type === RequestType.INSERT ? 'insert' : 'replace', spaceId: uint(body, BodyKey.SPACE_ID), tuple: tuple(body) };
    case RequestType.UPDATE:
      return buildUpdate(body);
    case RequestType.DELETE:
      return { kind: 'delete', spaceId: uint(body, BodyKey.SPACE_ID), indexId: uint(body, BodyKey.INDEX_ID), key: array(body, BodyKey.KEY) };
    case RequestType.UPSERT:
      return buildUpsert(body);
    case RequestType.CALL:
    case RequestType.CALL_16:
      return { kind: type === RequestType.CALL ? 'call' : 'call16', functionName: str(body, BodyKey.FUNCTION_NAME), args: tuple(body) };
    case RequestType.EVAL:
      return { kind: 'eval', expr: str(body, BodyKey.EXPR), args: tuple(body) };
    case RequestType.EXECUTE:
    case RequestType.PREPARE:
      return buildExecute(type, body);
    case RequestType.AUTH:
      return buildAuth(body);
    case RequestType.ID:
      return buildId(body);
    default:
      return buildSimple(type);
  }
}

function buildSimple(type: number): SimpleRequest {
  switch (type) {
    case RequestType.PING:
      return { kind: 'ping' };
    case RequestType.NOP:
      return { kind: 'nop' };
    case RequestType.BEGIN:
      return { kind: 'begin' };
    case RequestType.COMMIT:
      return { kind: 'commit' };
    case RequestType.ROLLBACK:
      return { kind: 'rollback' };
    default:
      throw iprotoError(ErrorCode.UNKNOWN_REQUEST_TYPE, type);
  }
}

function buildSelect(body: Body): SelectRequest {
  const iterator = uint(body, BodyKey.ITERATOR);
  if (iterator > ITERATOR_CODE_MAX) throw iprotoError(ErrorCode.ITERATOR_TYPE, iterator);
  return {
    kind: 'select',
    spaceId: uint(body, BodyKey.SPACE_ID),
    indexId: uint(body, BodyKey.INDEX_ID),
    limit: uint(body, BodyKey.LIMIT),
    offset: uint(body, BodyKey.OFFSET),
    iterator: iterator as IteratorCode,
    key: array(body, BodyKey.KEY),
  };
}

function buildUpdate(body: Body): UpdateRequest {
  return {
    kind: 'update',
    spaceId: uint(body, BodyKey.SPACE_ID),
    indexId: uint(body, BodyKey.INDEX_ID),
    key: array(body, BodyKey.KEY),
    ops: tuple(body), // UPDATE carries its operations in TUPLE (0x21), not OPS
    indexBase: uint(body, BodyKey.INDEX_BASE),
  };
}

function buildUpsert(body: Body): UpsertRequest {
  return {
    kind: 'upsert',
    spaceId: uint(body, BodyKey.SPACE_ID),
    tuple: tuple(body),
    ops: array(body, BodyKey.OPS),
    indexBase: uint(body, BodyKey.INDEX_BASE),
  };
}

function buildExecute(type: number, body: Body): ExecuteRequest {
  const sqlText = body.has(BodyKey.SQL_TEXT) ? str(body, BodyKey.SQL_TEXT) : undefined;
  const stmtId = body.has(BodyKey.STMT_ID) ? uint(body, BodyKey.STMT_ID) : undefined;
  if (sqlText !== undefined && stmtId !== undefined) {
    throw iprotoError(ErrorCode.INVALID_MSGPACK, 'SQL text and statement id are incompatible options in one request: choose one');
  }
  if (sqlText === undefined && stmtId === undefined) throw iprotoError(ErrorCode.MISSING_REQUEST_FIELD, 'SQL text or stmt id');
  const kind = type === RequestType.EXECUTE ? 'execute' : 'prepare';
  return { kind, sqlText, stmtId, bind: body.has(BodyKey.SQL_BIND) ? array(body, BodyKey.SQL_BIND) : [] };
}

function buildAuth(body: Body): AuthRequest {
  // Both fields are read from their raw bytes: the scramble is an MP_STR of arbitrary bytes,
  // which a UTF-8 decode would mangle.
  const user = fromUtf8(new MpReader(body.get(BodyKey.USER_NAME)!.raw).strBytes());
  const reader = new MpReader(body.get(BodyKey.TUPLE)!.raw);
  const partCount = reader.arrayHeader();
  let mechanism: string | undefined;
  let scramble: Uint8Array | undefined;
  if (partCount >= 1) {
    mechanism = mpTypeOf(reader.peek()) === 'str' ? fromUtf8(reader.strBytes()) : (reader.skip(), undefined);
  }
  if (partCount >= 2) {
    const type = mpTypeOf(reader.peek());
    if (type !== 'str' && type !== 'bin') throw iprotoError(ErrorCode.INVALID_MSGPACK, 'authentication scramble');
    scramble = reader.strBytes().slice();
  }
  return { kind: 'auth', user, partCount, mechanism, scramble };
}

function buildId(body: Body): IdRequest {
  const features = body.has(BodyKey.FEATURES) ? array(body, BodyKey.FEATURES) : [];
  if (!features.every((f) => typeof f === 'number')) throw iprotoError(ErrorCode.INVALID_MSGPACK, 'packet body');
  return { kind: 'id', version: uint(body, BodyKey.VERSION), features: features as number[] };
}

// --- field accessors (types were checked while reading the body) ------------------------------

function uint(body: Body, key: number): number {
  const field = body.get(key);
  if (field === undefined) return 0;
  // A uint64 beyond 2^53 fits no space id, limit or offset Tarantool would accept either.
  if (typeof field.value !== 'number') throw iprotoError(ErrorCode.INVALID_MSGPACK, 'packet body');
  return field.value;
}

function array(body: Body, key: number): MpValue[] {
  const field = body.get(key);
  return field === undefined ? [] : (field.value as MpValue[]);
}

function str(body: Body, key: number): string {
  return body.get(key)!.value as string;
}

function tuple(body: Body): MpValue[] {
  const field = body.get(BodyKey.TUPLE);
  return field === undefined ? [] : (new MpReader(field.raw).value() as MpValue[]);
}
