/**
 * Client-side decoding of a reply frame (header + body, without the length prefix). Accepts any
 * integer widths, so it reads real Tarantool servers' replies as well as ours.
 */

import { isMpMap, mapGet, MpReader, MsgpackError, type MpValue } from '../codec/msgpack.ts';
import { BodyKey, ERROR_CODE_MASK, ERROR_TYPE_BIT, ErrorStackKey, HeaderKey } from './constants.ts';
import type { Sync } from './request.ts';

export interface Reply {
  /** The header's type field: 0 for OK, `0x8000 | code` for an error, 128 for a push (CHUNK). */
  readonly type: number;
  readonly sync: Sync;
  readonly schemaVersion: number;
  /** The body map (integer keys), or undefined when the reply had none. */
  readonly body: MpValue;
}

/** Decodes a reply; undefined when the frame is not a well-formed reply (the caller drops the connection). */
export function decodeReply(frame: Uint8Array): Reply | undefined {
  try {
    const reader = new MpReader(frame);
    const header = reader.value();
    if (!isMpMap(header)) return undefined;
    const type = mapGet(header, HeaderKey.REQUEST_TYPE);
    const sync = mapGet(header, HeaderKey.SYNC) ?? 0;
    const schemaVersion = mapGet(header, HeaderKey.SCHEMA_VERSION) ?? 0;
    if (typeof type !== 'number' || (typeof sync !== 'number' && typeof sync !== 'bigint')) return undefined;
    if (typeof schemaVersion !== 'number') return undefined;
    const body = reader.done ? undefined : reader.value();
    if (!reader.done || (body !== undefined && !isMpMap(body))) return undefined;
    return { type, sync, schemaVersion, body };
  } catch (error) {
    if (error instanceof MsgpackError) return undefined;
    throw error;
  }
}

export function isErrorReply(reply: Reply): boolean {
  return (reply.type & ERROR_TYPE_BIT) !== 0;
}

/** The Tarantool error code and message of an error reply; prefers the 2.4+ stack's message. */
export function replyError(reply: Reply): { code: number; message: string } {
  const code = reply.type & ERROR_CODE_MASK;
  const stack = mapGet(mapGet(reply.body, BodyKey.ERROR), ErrorStackKey.STACK);
  const top = Array.isArray(stack) ? (stack[0] as MpValue) : undefined;
  const stackMessage = mapGet(top, ErrorStackKey.MESSAGE);
  const legacyMessage = mapGet(reply.body, BodyKey.ERROR_24);
  const message = typeof stackMessage === 'string' ? stackMessage : typeof legacyMessage === 'string' ? legacyMessage : 'Unknown error';
  return { code, message };
}

/** `body[0x30]`: the data of an OK reply (empty when absent). */
export function replyData(reply: Reply): MpValue[] {
  const data = mapGet(reply.body, BodyKey.DATA);
  return Array.isArray(data) ? (data as MpValue[]) : [];
}
