/**
 * The fast request decoder against the general one: on every frame it accepts, it must return
 * exactly what the general decoder returns (the general decoder is itself held to Tarantool by
 * differential.test.ts). Frames: the fuzzers' random, structured and damaged ones, and frames
 * shaped like the fast path's own (DML and PING with every uint width, random key subsets and
 * orders, repeated keys, any values in keys and tuples, truncated or extended by a few bytes).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpExt, MpFloat64, MpWriter, type MpValue } from '../../core/codec/msgpack.ts';
import { decodeFrameFast, decodeRequestFast, SelectFrame } from '../../core/iproto/request-fast.ts';
import { decodeRequestGeneral, type DecodedRequest } from '../../core/iproto/request.ts';
import { anyFrame } from './frame-arbitraries.ts';

const FAST_TYPES = [1, 2, 3, 4, 5, 9, 64];

/** Integers of every width around their boundaries. */
const anyInteger = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1, -129, -0x8001, -0x80000001),
  fc.maxSafeInteger(),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) }),
);

const anyValue: fc.Arbitrary<MpValue> = fc.letrec<{ value: MpValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyInteger,
    fc.double(),
    fc.double().map((d) => new MpFloat64(d)),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.constantFrom('x'.repeat(31), 'y'.repeat(32), 'z'.repeat(300), '\uFEFFbom'),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 8 }).map((data) => new MpExt(1, data)),
    fc.array(tie('value'), { maxLength: 18 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 2 }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 2 }).map((entries) => new Map(entries)),
  ),
})).value;

/** A uint in a chosen (possibly wider than needed) encoding, as connectors sometimes write them. */
function writeUintAs(w: MpWriter, value: number, width: number): void {
  if (width === 0 || value > 0xffffffff) return w.uint(value);
  if (width === 1 && value <= 0xff) return w.raw(new Uint8Array([0xcc, value]));
  if (width === 2 && value <= 0xffff) return w.raw(new Uint8Array([0xcd, value >> 8, value & 0xff]));
  w.u32Fixed(value);
}

const headerEntry = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(fc.constantFrom(0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a), fc.nat(), fc.nat({ max: 3 })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x00, 0x01, 0x05, 0x0a, 0x04), fc.oneof(anyInteger, anyValue), fc.nat({ max: 3 })) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.nat({ max: 0x60 }), anyValue), anyValue, fc.constant(0)) },
);

/** A DML body key with a value of the key's own wire type, in any uint width. */
const typedBodyEntry = fc.oneof(
  fc.tuple(
    fc.constantFrom(0x10, 0x11, 0x12, 0x13, 0x14, 0x15),
    fc.oneof({ weight: 60, arbitrary: fc.nat({ max: 20 }) }, { weight: 1, arbitrary: anyInteger }),
    fc.nat({ max: 3 }),
  ),
  fc.tuple(fc.constantFrom(0x20, 0x21, 0x28), fc.array(anyValue, { maxLength: 6 }), fc.constant(0)),
);
/** Anything at all as a body entry. */
const anyBodyEntry = fc.tuple(fc.oneof(fc.nat({ max: 0x60 }), anyValue), anyValue, fc.constant(0));

/** Frames in (and just around) the fast path's shape. */
const fastShapedFrame: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FAST_TYPES) }, { weight: 1, arbitrary: anyInteger }),
    typeWidth: fc.nat({ max: 3 }),
    sync: fc.oneof({ weight: 10, arbitrary: fc.nat() }, { weight: 1, arbitrary: anyInteger }),
    extraHeader: fc.array(headerEntry, { maxLength: 2 }),
    body: fc.option(
      fc.tuple(
        fc.uniqueArray(typedBodyEntry, { selector: ([k]) => k, minLength: 2, maxLength: 9 }),
        fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.oneof(typedBodyEntry, anyBodyEntry), { maxLength: 1 }) }),
        fc.boolean(),
      ),
      { nil: undefined, freq: 8 },
    ),
    damage: fc.option(fc.tuple(fc.boolean(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 })), { freq: 10 }),
  })
  .map(({ type, typeWidth, sync, extraHeader, body, damage }) => {
    const w = new MpWriter();
    w.mapHeader(2 + extraHeader.length);
    w.uint(0);
    if (typeof type === 'number' && type >= 0) writeUintAs(w, type, typeWidth);
    else w.value(type);
    w.uint(1);
    w.value(sync);
    for (const [k, v, width] of extraHeader) {
      w.value(k);
      if (typeof v === 'number' && v >= 0) writeUintAs(w, v, width);
      else w.value(v);
    }
    if (body !== undefined) {
      // Mostly the body alone (with the mandatory fields added when `complete`), sometimes one
      // more entry of any kind (a repeated key, a key the fast path does not read, garbage).
      const [typed, extra, complete] = body;
      const required: Array<[number, MpValue, number]> = complete ? [[0x10, 512, 2], [0x12, 1, 0], [0x20, [1], 0], [0x21, [1, 'x'], 0], [0x28, [], 0]] : [];
      const keys = new Set<number>(typed.map(([k]) => k));
      const entries = [...typed, ...required.filter(([k]) => !keys.has(k)), ...extra];
      w.mapHeader(entries.length);
      for (const [k, v, width] of entries) {
        w.value(k);
        if (typeof v === 'number' && v >= 0) writeUintAs(w, v, width);
        else w.value(v);
      }
    }
    const frame = w.toBytes();
    if (damage === null) return frame;
    const [truncate, at, extra] = damage;
    return truncate ? frame.slice(0, at % frame.length) : new Uint8Array([...frame, ...extra]);
  });

/** Bytes around a frame in a larger buffer: zeros, which would complete a truncated array. */
const PAD_BYTES = 16;

/**
 * The fast decoder agrees with the general one, and decodes the frame the same when it lies
 * inside a larger buffer (as the real network hands frames over): nothing past its end is read.
 */
function agree(frame: Uint8Array): boolean {
  const fast = decodeRequestFast(frame);
  const embedded = new Uint8Array(PAD_BYTES + frame.length + PAD_BYTES);
  embedded.set(frame, PAD_BYTES);
  const range = [PAD_BYTES, PAD_BYTES + frame.length] as const;
  expect(decodeRequestFast(embedded, ...range)).toStrictEqual(fast);
  expect(asDecoded(decodeFrameFast(embedded, ...range))).toStrictEqual(fast);
  if (fast === undefined) return false;
  expect(fast).toStrictEqual(decodeRequestGeneral(frame));
  return true;
}

/** A SelectFrame as the header and request it stands for; anything else as is. */
function asDecoded(decoded: ReturnType<typeof decodeFrameFast>): DecodedRequest | undefined {
  if (!(decoded instanceof SelectFrame)) return decoded;
  return { ok: true, header: decoded.header(), request: decoded.request() };
}

describe('fast request decoder', () => {
  it('agrees with the general decoder on frames shaped like the common requests', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fastShapedFrame, (frame) => {
        if (agree(frame)) accepted++;
      }),
      { numRuns: 30_000, seed: 3 },
    );
    expect(accepted).toBeGreaterThan(1_000); // the generator does reach the fast path
  });

  it('agrees with the general decoder on random, structured and damaged frames', () => {
    fc.assert(
      fc.property(anyFrame, (frame) => {
        agree(frame);
      }),
      { numRuns: 20_000, seed: 5 },
    );
  });

  it('takes what tarantool-driver and net.box send', () => {
    const hex = (text: string): Uint8Array => new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)));
    // tarantool-driver 3.1.0: `82 00 type 01 ce sync32`, select body `{10 cd, 11, 12 ce, 13 ce, 14, 20}`.
    const driverSelect = hex('820001' + '01ce00000007' + '86' + '10cd0200' + '1100' + '12ce00000001' + '13ce00000000' + '1400' + '209101');
    const driverPing = hex('820040' + '01ce00000008');
    // net.box 2.6: `83 00 type 01 sync 05 schema`, replace body `{10 cd, 21 [..]}`.
    const netboxReplace = hex('83' + '0003' + '01cd0400' + '0553' + '82' + '10cd0200' + '21920aa178');
    const pingEmptyBody = hex('83' + '0040' + '01cd0401' + '0553' + '80');
    for (const frame of [driverSelect, driverPing, netboxReplace, pingEmptyBody]) expect(agree(frame)).toBe(true);
    // A PING body other than an empty map is left to the general decoder (which ignores it too).
    expect(decodeRequestFast(hex('820040' + '0101' + '81' + '1001'))).toBeUndefined();
    expect(decodeRequestGeneral(hex('820040' + '0101' + '81' + '1001'))).toMatchObject({ ok: true, request: { kind: 'ping' } });
    expect(decodeRequestFast(driverSelect)).toMatchObject({
      header: { type: 1, sync: 7 },
      request: { kind: 'select', spaceId: 512, limit: 1, key: [1] },
    });
    const frame = decodeFrameFast(driverSelect, 0, driverSelect.length);
    expect(frame).toBeInstanceOf(SelectFrame);
    expect(frame).toMatchObject({ sync: 7, spaceId: 512, limit: 1, key: [1] });
    expect(decodeFrameFast(netboxReplace, 0, netboxReplace.length)).not.toBeInstanceOf(SelectFrame);
    expect(decodeRequestFast(netboxReplace)).toMatchObject({
      header: { type: 3, sync: 0x400, schemaVersion: 0x53 },
      request: { kind: 'replace', spaceId: 512, tuple: [10, 'x'] },
    });
  });
});
