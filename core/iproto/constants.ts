/**
 * Tarantool binary protocol (iproto) numbers: request types, header and body keys, iterators,
 * error codes with their message templates, and this implementation's limits.
 * Values follow Tarantool 1.10-2.x (src/box/iproto_constants.h, src/box/errcode.h); message
 * templates are Tarantool's, byte for byte, because connectors and tests match on them.
 */

export const RequestType = {
  OK: 0,
  SELECT: 1,
  INSERT: 2,
  REPLACE: 3,
  UPDATE: 4,
  DELETE: 5,
  CALL_16: 6,
  AUTH: 7,
  EVAL: 8,
  UPSERT: 9,
  CALL: 10,
  EXECUTE: 11,
  NOP: 12,
  PREPARE: 13,
  BEGIN: 14,
  COMMIT: 15,
  ROLLBACK: 16,
  PING: 64,
  JOIN: 65,
  SUBSCRIBE: 66,
  VOTE: 68,
  ID: 73,
  WATCH: 74,
  CHUNK: 128,
} as const;
export type RequestTypeCode = (typeof RequestType)[keyof typeof RequestType];

/** A reply's request-type field for an error: the error code with this bit set. */
export const ERROR_TYPE_BIT = 0x8000;
/** Mask that extracts the error code from an error reply's type field. */
export const ERROR_CODE_MASK = 0x7fff;

export const HeaderKey = {
  REQUEST_TYPE: 0x00,
  SYNC: 0x01,
  REPLICA_ID: 0x02,
  LSN: 0x03,
  TIMESTAMP: 0x04,
  SCHEMA_VERSION: 0x05,
  SERVER_VERSION: 0x06,
  GROUP_ID: 0x07,
  TSN: 0x08,
  FLAGS: 0x09,
  STREAM_ID: 0x0a,
} as const;

export const BodyKey = {
  SPACE_ID: 0x10,
  INDEX_ID: 0x11,
  LIMIT: 0x12,
  OFFSET: 0x13,
  ITERATOR: 0x14,
  INDEX_BASE: 0x15,
  KEY: 0x20,
  TUPLE: 0x21,
  FUNCTION_NAME: 0x22,
  USER_NAME: 0x23,
  EXPR: 0x27,
  OPS: 0x28,
  OPTIONS: 0x2b,
  DATA: 0x30,
  ERROR_24: 0x31,
  METADATA: 0x32,
  SQL_TEXT: 0x40,
  SQL_BIND: 0x41,
  SQL_INFO: 0x42,
  STMT_ID: 0x43,
  ERROR: 0x52,
  VERSION: 0x54,
  FEATURES: 0x55,
} as const;

/** Names used in MISSING_REQUEST_FIELD messages (Tarantool 1.10-2.x `iproto_key_strs`). */
export const BODY_KEY_NAMES: Readonly<Record<number, string>> = {
  [BodyKey.SPACE_ID]: 'space id',
  [BodyKey.INDEX_ID]: 'index id',
  [BodyKey.LIMIT]: 'limit',
  [BodyKey.OFFSET]: 'offset',
  [BodyKey.ITERATOR]: 'iterator',
  [BodyKey.INDEX_BASE]: 'index base',
  [BodyKey.KEY]: 'key',
  [BodyKey.TUPLE]: 'tuple',
  [BodyKey.FUNCTION_NAME]: 'function name',
  [BodyKey.USER_NAME]: 'user name',
  [BodyKey.EXPR]: 'expression',
  [BodyKey.OPS]: 'operations',
  [BodyKey.SQL_TEXT]: 'SQL text',
  [BodyKey.SQL_BIND]: 'SQL bind',
  [BodyKey.STMT_ID]: 'stmt id',
};

/** `IPROTO_ERROR` (0x52) stack entry keys (MP_ERROR_*). */
export const ErrorStackKey = {
  STACK: 0x00,
  TYPE: 0x00,
  FILE: 0x01,
  LINE: 0x02,
  MESSAGE: 0x03,
  ERRNO: 0x04,
  CODE: 0x05,
  FIELDS: 0x06,
} as const;

/** `IPROTO_METADATA` column keys and `IPROTO_SQL_INFO` keys. */
export const SqlKey = {
  FIELD_NAME: 0x00,
  FIELD_TYPE: 0x01,
  ROW_COUNT: 0x00,
  AUTOINCREMENT_IDS: 0x01,
} as const;

export const Iterator = {
  EQ: 0,
  REQ: 1,
  ALL: 2,
  LT: 3,
  LE: 4,
  GE: 5,
  GT: 6,
  BITS_ALL_SET: 7,
  BITS_ANY_SET: 8,
  BITS_ALL_NOT_SET: 9,
  OVERLAPS: 10,
  NEIGHBOR: 11,
} as const;
export type IteratorCode = (typeof Iterator)[keyof typeof Iterator];
export const ITERATOR_CODE_MAX = Iterator.NEIGHBOR;

/** Tarantool error codes (box.error.*) that the protocol layer and its backends raise. */
export const ErrorCode = {
  UNKNOWN: 0,
  ILLEGAL_PARAMS: 1,
  MEMORY_ISSUE: 2,
  TUPLE_FOUND: 3,
  TUPLE_NOT_FOUND: 4,
  UNSUPPORTED: 5,
  READONLY: 7,
  EXACT_MATCH: 19,
  INVALID_MSGPACK: 20,
  UNKNOWN_UPDATE_OP: 28,
  UPDATE_FIELD: 29,
  KEY_PART_COUNT: 31,
  PROC_LUA: 32,
  NO_SUCH_PROC: 33,
  NO_SUCH_INDEX_ID: 35,
  NO_SUCH_SPACE: 36,
  NO_SUCH_FIELD_NO: 37,
  ACCESS_DENIED: 42,
  NO_SUCH_USER: 45,
  PASSWORD_MISMATCH: 47,
  UNKNOWN_REQUEST_TYPE: 48,
  MISSING_REQUEST_FIELD: 69,
  ITERATOR_TYPE: 72,
  TIMEOUT: 78,
  NO_CONNECTION: 77,
  PROC_C: 102,
  WRONG_SCHEMA_VERSION: 109,
  LOADING: 116,
  AUTH_REQUIRED: 258,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** printf-style templates (`%s`, `%u`, `%d`), as Tarantool 1.10-2.x prints them. */
export const ERROR_TEMPLATES: Readonly<Record<number, string>> = {
  [ErrorCode.UNKNOWN]: 'Unknown error',
  [ErrorCode.ILLEGAL_PARAMS]: 'Illegal parameters, %s',
  [ErrorCode.MEMORY_ISSUE]: 'Failed to allocate %u bytes in %s for %s',
  [ErrorCode.TUPLE_FOUND]: "Duplicate key exists in unique index '%s' in space '%s'",
  [ErrorCode.TUPLE_NOT_FOUND]: "Tuple doesn't exist in index '%s' in space '%s'",
  [ErrorCode.UNSUPPORTED]: '%s does not support %s',
  [ErrorCode.READONLY]: "Can't modify data because this instance is in read-only mode.",
  [ErrorCode.EXACT_MATCH]: 'Invalid key part count in an exact match (expected %u, got %u)',
  [ErrorCode.INVALID_MSGPACK]: 'Invalid MsgPack - %s',
  [ErrorCode.UNKNOWN_UPDATE_OP]: 'Unknown UPDATE operation',
  [ErrorCode.UPDATE_FIELD]: 'Field %s UPDATE error: %s',
  [ErrorCode.KEY_PART_COUNT]: 'Invalid key part count (expected [0..%u], got %u)',
  [ErrorCode.PROC_LUA]: '%s',
  [ErrorCode.NO_SUCH_PROC]: "Procedure '%s' is not defined",
  [ErrorCode.NO_SUCH_INDEX_ID]: "No index #%u is defined in space '%s'",
  [ErrorCode.NO_SUCH_SPACE]: "Space '%s' does not exist",
  [ErrorCode.NO_SUCH_FIELD_NO]: 'Field %d was not found in the tuple',
  [ErrorCode.ACCESS_DENIED]: "%s access to %s '%s' is denied for user '%s'",
  [ErrorCode.NO_SUCH_USER]: "User '%s' is not found",
  [ErrorCode.PASSWORD_MISMATCH]: "Incorrect password supplied for user '%s'",
  [ErrorCode.UNKNOWN_REQUEST_TYPE]: 'Unknown request type %u',
  [ErrorCode.MISSING_REQUEST_FIELD]: "Missing mandatory field '%s' in request",
  [ErrorCode.ITERATOR_TYPE]: "Unknown iterator type '%s'",
  [ErrorCode.TIMEOUT]: 'Timeout exceeded',
  [ErrorCode.NO_CONNECTION]: 'Connection is not established',
  [ErrorCode.PROC_C]: '%s',
  [ErrorCode.WRONG_SCHEMA_VERSION]: 'Wrong schema version, current: %d, in request: %u',
  [ErrorCode.LOADING]: "Instance bootstrap hasn't finished yet",
  [ErrorCode.AUTH_REQUIRED]: 'Authentication required',
};

/** Version announced in the greeting. 1.10 keeps net.box from asking for _vcollation (>= 2.2.1). */
export const ANNOUNCED_VERSION = '1.10.15';
export const GREETING_BYTES = 128;
export const GREETING_LINE_BYTES = 64;
/** Salt bytes in the greeting; chap-sha1 uses the first SCRAMBLE_SALT_BYTES. */
export const GREETING_SALT_BYTES = 32;
export { SCRAMBLE_BYTES, SCRAMBLE_SALT_BYTES } from '../lib/chap-sha1.ts';
export const CHAP_SHA1 = 'chap-sha1';
/** The user every connection starts as. */
export const GUEST_USER = 'guest';

/** Fixed reply header: `ce L32 83 00 ce code32 01 cf sync64 05 ce schema32`. */
export const REPLY_HEADER_BYTES = 28;
/** Reply header without its 5-byte `ce L32` length prefix (the transport adds it). */
export const REPLY_HEADER_FRAME_BYTES = REPLY_HEADER_BYTES - 5;
