/** fast-check generators of iproto request frames: valid, structured-but-random, damaged. */

import fc from 'fast-check';
import { MpWriter, type MpValue } from '../../core/codec/msgpack.ts';
import { BodyKey, RequestType } from '../../core/iproto/constants.ts';
import { encodeRequestFrame } from '../../core/iproto/request-encode.ts';
import { TEST_SPACE_ID } from './memory-backend.ts';

const KNOWN_TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 64, 65, 66, 68, 73, 74];
const BODY_KEYS = Object.values(BodyKey);

export const anyValue: fc.Arbitrary<MpValue> = fc.letrec<{ value: MpValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.constantFrom(0, 1, 2, 281, 289, TEST_SPACE_ID, 0xffffffff),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('echo', 'sum', 'boom', 'test', 'return ...', 'chap-sha1', 'guest'),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 24 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** A packet shaped like a request: a header map and a body map with iproto keys, random values. */
export const structuredFrame: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof(fc.constantFrom(...KNOWN_TYPES), anyValue),
    sync: fc.oneof(fc.nat(), anyValue),
    extraHeader: fc.array(fc.tuple(fc.oneof(fc.nat({ max: 12 }), anyValue), anyValue), { maxLength: 2 }),
    body: fc.option(fc.array(fc.tuple(fc.oneof(fc.constantFrom(...BODY_KEYS), anyValue), anyValue), { maxLength: 7 }), { nil: undefined }),
  })
  .map(({ type, sync, extraHeader, body }) => {
    const w = new MpWriter();
    w.mapHeader(2 + extraHeader.length);
    w.uint(0);
    w.value(type);
    w.uint(1);
    w.value(sync);
    for (const [k, v] of extraHeader) {
      w.value(k);
      w.value(v);
    }
    if (body !== undefined) {
      w.mapHeader(body.length);
      for (const [k, v] of body) {
        w.value(k);
        w.value(v);
      }
    }
    return w.toBytes();
  });

/** A valid request of a random kind. */
export const validFrame: fc.Arbitrary<Uint8Array> = fc
  .record({
    kind: fc.constantFrom('select', 'insert', 'replace', 'update', 'delete', 'upsert', 'call', 'call16', 'eval', 'ping'),
    id: fc.nat({ max: 20 }),
    text: fc.string({ maxLength: 6 }),
    sync: fc.nat(),
  })
  .map(({ kind, id, text, sync }) => {
    const [type, body] = validRequest(kind, id, text);
    return encodeRequestFrame(type, sync, body);
  });

function validRequest(kind: string, id: number, text: string): [number, Map<number, MpValue>] {
  const m = (entries: Array<[number, MpValue]>): Map<number, MpValue> => new Map(entries);
  switch (kind) {
    case 'select':
      return [RequestType.SELECT, m([[0x10, TEST_SPACE_ID], [0x12, 10], [0x14, 2], [0x20, []]])];
    case 'insert':
    case 'replace':
      return [kind === 'insert' ? 2 : 3, m([[0x10, TEST_SPACE_ID], [0x21, [id, text]]])];
    case 'update':
      return [RequestType.UPDATE, m([[0x10, TEST_SPACE_ID], [0x20, [id]], [0x21, [['=', 1, text]]]])];
    case 'delete':
      return [RequestType.DELETE, m([[0x10, TEST_SPACE_ID], [0x20, [id]]])];
    case 'upsert':
      return [RequestType.UPSERT, m([[0x10, TEST_SPACE_ID], [0x21, [id, text]], [0x28, [['=', 1, text]]]])];
    case 'call':
    case 'call16':
      return [kind === 'call' ? 10 : 6, m([[0x22, id % 2 === 0 ? 'echo' : 'boom'], [0x21, [id]]])];
    case 'eval':
      return [RequestType.EVAL, m([[0x27, 'return ...'], [0x21, [text]]])];
    default:
      return [RequestType.PING, m([])];
  }
}

/** Damages a frame: truncation, a flipped byte, garbage after it, or a bad type byte inside. */
export const mutatedFrame: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.oneof(validFrame, structuredFrame), fc.nat(), fc.nat({ max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat({ max: 3 }))
  .map(([frame, at, byte, garbage, how]) => {
    const i = frame.length === 0 ? 0 : at % frame.length;
    switch (how) {
      case 0:
        return frame.slice(0, i);
      case 1: {
        const out = frame.slice();
        out[i] = byte;
        return out;
      }
      case 2:
        return new Uint8Array([...frame, ...garbage]);
      default: {
        const out = frame.slice();
        out[i] = 0xc1; // never used in msgpack
        return out;
      }
    }
  });

export const anyFrame: fc.Arbitrary<Uint8Array> = fc.oneof(fc.uint8Array({ maxLength: 64 }), structuredFrame, mutatedFrame, validFrame);
