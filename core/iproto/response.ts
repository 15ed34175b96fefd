/**
 * Encoding of server replies. Every reply starts with the fixed 28-byte header Tarantool writes
 * (`ce L32 83 00 ce code32 01 cf sync64 05 ce schema32`); tarantool-driver 3.0.x reads the code,
 * sync and schema version at fixed offsets, so the widths never shrink. The transport adds the
 * `ce L32` prefix: a frame here is the 23 bytes after it plus the body. Every reply has a body
 * (`80` for PING/AUTH), as Tarantool's do.
 *
 * Frames are written into a reply arena (reply-arena.ts): the shared one, which hands them out as
 * views (valid and unchanged for good, but sharing their ArrayBuffer with other frames), or a
 * connection's output arena, where they are committed in place. An encoder that fails (a value
 * msgpack cannot hold) throws and leaves nothing behind in the arena.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { BodyKey, ERROR_TYPE_BIT, ErrorStackKey, REPLY_HEADER_FRAME_BYTES, SqlKey } from './constants.ts';
import type { IprotoError } from './errors.ts';
import type { ReplyArena } from './reply-arena.ts';
import type { Sync } from './request.ts';

/** Reported as the error's source file in the 2.4+ error stack. */
const ERROR_SOURCE_FILE = 'core/iproto';

/** What an EXECUTE (SQL) request produced. */
export type ExecuteResult =
  | { readonly kind: 'rows'; readonly metadata: readonly SqlColumn[]; readonly rows: readonly MpValue[][] }
  | { readonly kind: 'changed'; readonly rowCount: number; readonly autoincrementIds?: readonly number[] };

export interface SqlColumn {
  readonly name: string;
  readonly type: string;
}

/** Starts a reply frame in `w` with its 23-byte header (see the module comment). */
function beginReply(w: ReplyArena, code: number, sync: Sync, schemaVersion: number): void {
  assert(Number.isInteger(code) && code >= 0 && code <= 0xffffffff, 'reply code');
  assert(Number.isInteger(schemaVersion) && schemaVersion >= 0 && schemaVersion <= 0xffffffff, 'schema version');
  if (typeof sync === 'bigint') w.beginReply(code, Number(BigInt.asUintN(64, sync) >> 32n), Number(BigInt.asUintN(32, sync)), schemaVersion);
  else w.beginReply(code, Math.floor(sync / 0x100000000), sync >>> 0, schemaVersion);
  assert(w.length === REPLY_HEADER_FRAME_BYTES, 'reply header is 23 bytes after the length prefix');
}

/*
 * Each write* function writes one whole reply frame into an arena, for the caller to finish (a
 * view of the shared arena) or commit (an output arena); an encoding failure abandons the frame
 * and throws.
 */

/** OK with an empty body: PING, AUTH, NOP, BEGIN/COMMIT/ROLLBACK. */
export function writeOkReply(w: ReplyArena, sync: Sync, schemaVersion: number): void {
  beginReply(w, 0, sync, schemaVersion);
  w.mapHeader(0);
}

/** OK with `{0x30: values}`: SELECT and DML tuples, CALL/EVAL return values, shaped CALL_16. */
export function writeDataReply(w: ReplyArena, sync: Sync, schemaVersion: number, values: readonly MpValue[]): void {
  beginReply(w, 0, sync, schemaVersion);
  try {
    writeDataHeader(w, values.length);
    for (let i = 0; i < values.length; i++) w.value(values[i]);
  } catch (error) {
    w.abandon();
    throw error;
  }
}

/**
 * OK with `{0x30: [tuple]}`: the reply of a DML request, the same bytes as
 * `writeDataReply(w, sync, schemaVersion, [tuple])` without the array; with `optional`, undefined
 * (no tuple matched) is `{0x30: []}`.
 */
export function writeTupleReply(w: ReplyArena, sync: Sync, schemaVersion: number, tuple: MpValue | undefined, optional: boolean): void {
  beginReply(w, 0, sync, schemaVersion);
  try {
    const present = !optional || tuple !== undefined;
    writeDataHeader(w, present ? 1 : 0);
    if (present) w.value(tuple);
  } catch (error) {
    w.abandon();
    throw error;
  }
}

function writeDataHeader(w: ReplyArena, count: number): void {
  w.dataHeader(count); // array32 whatever the count, as Tarantool writes it
}

export function writeExecuteReply(w: ReplyArena, sync: Sync, schemaVersion: number, result: ExecuteResult): void {
  beginReply(w, 0, sync, schemaVersion);
  try {
    writeExecuteBody(w, result);
  } catch (error) {
    w.abandon();
    throw error;
  }
}

function writeExecuteBody(w: ReplyArena, result: ExecuteResult): void {
  if (result.kind === 'rows') {
    w.mapHeader(2);
    w.u8(BodyKey.METADATA);
    w.arrayHeader(result.metadata.length);
    for (const column of result.metadata) {
      w.mapHeader(2);
      w.u8(SqlKey.FIELD_NAME);
      w.str(column.name);
      w.u8(SqlKey.FIELD_TYPE);
      w.str(column.type);
    }
    w.u8(BodyKey.DATA);
    w.value(result.rows as MpValue[][]);
    return;
  }
  const ids = result.autoincrementIds ?? [];
  w.mapHeader(1);
  w.u8(BodyKey.SQL_INFO);
  w.mapHeader(ids.length > 0 ? 2 : 1);
  w.u8(SqlKey.ROW_COUNT);
  w.uint(result.rowCount);
  if (ids.length > 0) {
    w.u8(SqlKey.AUTOINCREMENT_IDS);
    w.value(ids as number[]);
  }
}

/**
 * An error reply: type `0x8000 | code`, body with both forms connectors read: the 1.10 message
 * `{0x31: msg}` and the 2.4+ stack `{0x52: {0x00: [{type, file, line, message, errno, code}]}}`.
 */
export function writeErrorReply(w: ReplyArena, sync: Sync, schemaVersion: number, error: IprotoError): void {
  beginReply(w, ERROR_TYPE_BIT | error.code, sync, schemaVersion);
  try {
    writeErrorBody(w, error);
  } catch (thrown) {
    w.abandon();
    throw thrown;
  }
}

function writeErrorBody(w: ReplyArena, error: IprotoError): void {
  w.mapHeader(2);
  w.u8(BodyKey.ERROR_24);
  w.str(error.message);
  w.u8(BodyKey.ERROR);
  w.mapHeader(1);
  w.u8(ErrorStackKey.STACK);
  w.arrayHeader(1);
  w.mapHeader(6);
  w.u8(ErrorStackKey.TYPE);
  w.str(error.errorType);
  w.u8(ErrorStackKey.FILE);
  w.str(ERROR_SOURCE_FILE);
  w.u8(ErrorStackKey.LINE);
  w.uint(0);
  w.u8(ErrorStackKey.MESSAGE);
  w.str(error.message);
  w.u8(ErrorStackKey.ERRNO);
  w.uint(0);
  w.u8(ErrorStackKey.CODE);
  w.uint(error.code);
}
