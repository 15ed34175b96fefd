/**
 * Client-side encoding of request frames (header + body, without the length prefix, which the
 * transport adds). Header: `{0x00: type, 0x01: sync[, 0x05: schema_version]}`.
 */

import { MpWriter, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { BodyKey, CHAP_SHA1, HeaderKey, RequestType } from './constants.ts';
import type { Sync } from './request.ts';

/** A request body: integer keys to values, encoded in insertion order. */
export type RequestBody = ReadonlyMap<number, MpValue>;

export function encodeRequestFrame(type: number, sync: Sync, body: RequestBody | undefined, schemaVersion = 0): Uint8Array {
  assert(Number.isInteger(type) && type >= 0, 'request type');
  const w = new MpWriter(64);
  w.mapHeader(schemaVersion === 0 ? 2 : 3);
  w.u8(HeaderKey.REQUEST_TYPE);
  w.uint(type);
  w.u8(HeaderKey.SYNC);
  if (typeof sync === 'bigint') w.bigint(sync);
  else w.uint(sync);
  if (schemaVersion !== 0) {
    w.u8(HeaderKey.SCHEMA_VERSION);
    w.uint(schemaVersion);
  }
  if (body !== undefined) {
    w.mapHeader(body.size);
    for (const [key, value] of body) {
      w.uint(key);
      w.value(value);
    }
  }
  return w.toBytes();
}

/** AUTH body: the scramble goes out as an MP_STR of raw bytes, as every connector sends it. */
export function encodeAuthFrame(sync: Sync, user: string, scramble: Uint8Array): Uint8Array {
  const w = new MpWriter(64);
  w.mapHeader(2);
  w.u8(HeaderKey.REQUEST_TYPE);
  w.uint(RequestType.AUTH);
  w.u8(HeaderKey.SYNC);
  if (typeof sync === 'bigint') w.bigint(sync);
  else w.uint(sync);
  w.mapHeader(2);
  w.u8(BodyKey.USER_NAME);
  w.str(user);
  w.u8(BodyKey.TUPLE);
  w.arrayHeader(2);
  w.str(CHAP_SHA1);
  w.strBytes(scramble);
  return w.toBytes();
}

export interface SelectParams {
  readonly spaceId: number;
  readonly indexId?: number;
  readonly limit?: number;
  readonly offset?: number;
  readonly iterator?: number;
  readonly key?: readonly MpValue[];
}

/** Default SELECT limit: everything (what net.box sends for a select without a limit). */
export const SELECT_LIMIT_ALL = 0xffffffff;

export function selectBody(params: SelectParams): RequestBody {
  return new Map<number, MpValue>([
    [BodyKey.SPACE_ID, params.spaceId],
    [BodyKey.INDEX_ID, params.indexId ?? 0],
    [BodyKey.LIMIT, params.limit ?? SELECT_LIMIT_ALL],
    [BodyKey.OFFSET, params.offset ?? 0],
    [BodyKey.ITERATOR, params.iterator ?? 0],
    [BodyKey.KEY, (params.key ?? []) as MpValue[]],
  ]);
}
