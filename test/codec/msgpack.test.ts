import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, MpExt, MpFloat64, mpNumber, MpReader, MpWriter, MsgpackError, type MpValue } from '../../core/codec/msgpack.ts';
import { toHex, fromHex } from '../../core/lib/bytes.ts';

describe('msgpack encoding is Tarantool-faithful', () => {
  it('encodes integers in the smallest integer form, never as float64', () => {
    expect(toHex(encode(0))).toBe('00');
    expect(toHex(encode(127))).toBe('7f');
    expect(toHex(encode(128))).toBe('cc80');
    expect(toHex(encode(-1))).toBe('ff');
    expect(toHex(encode(-33))).toBe('d0df');
    expect(toHex(encode(2 ** 32))).toBe('cf0000000100000000');
    expect(toHex(encode(2 ** 40))).toBe('cf0000010000000000');
    expect(toHex(encode(-(2 ** 40)))).toBe('d3ffffff0000000000');
    expect(toHex(encode(2n ** 64n - 1n))).toBe('cfffffffffffffffff');
    expect(toHex(encode(5n))).toBe('05');
  });

  it('keeps floats and forced doubles as float64', () => {
    expect(toHex(encode(1.5))).toBe('cb3ff8000000000000');
    expect(toHex(encode(new MpFloat64(1)))).toBe('cb3ff0000000000000');
    // Decoded, an integral double stays a double (MpFloat64), so nothing takes it for an integer.
    const minusZero = decode(encode(-0));
    expect(minusZero instanceof MpFloat64 && Object.is(minusZero.value, -0)).toBe(true);
    expect(decode(encode(new MpFloat64(1)))).toEqual(new MpFloat64(1));
    expect(decode(fromHex('ca3f800000'))).toEqual(new MpFloat64(1)); // float32 1.0
    expect(decode(encode(2 ** 53))).toEqual(new MpFloat64(2 ** 53));
    expect(decode(encode(1.5))).toBe(1.5);
    expect(toHex(encode(decode(fromHex('cb3ff0000000000000'))))).toBe('cb3ff0000000000000');
    // Where either kind will do, mpNumber reads any number.
    expect([mpNumber(new MpFloat64(2)), mpNumber(2), mpNumber(2n ** 64n - 1n), mpNumber('2')]).toEqual([2, 2, 2 ** 64, undefined]);
  });

  it('decodes uint64 beyond 2^53 as bigint and small ones as number', () => {
    expect(decode(fromHex('cf0000000000000005'))).toBe(5);
    expect(decode(fromHex('cfffffffffffffffff'))).toBe(2n ** 64n - 1n);
    expect(decode(fromHex('d38000000000000000'))).toBe(-(2n ** 63n));
  });

  it('decodes string-keyed maps as objects and others as Map', () => {
    expect(decode(encode({ a: 1, b: [2] }))).toEqual({ a: 1, b: [2] });
    const m = decode(encode(new Map<MpValue, MpValue>([[0x10, 512], ['x', 1]])));
    expect(m).toBeInstanceOf(Map);
    expect((m as Map<MpValue, MpValue>).get(0x10)).toBe(512);
  });

  it('never lets a __proto__ key touch the prototype', () => {
    const w = new MpWriter();
    w.mapHeader(1);
    w.str('__proto__');
    w.mapHeader(1);
    w.str('polluted');
    w.bool(true);
    const v = decode(w.toBytes());
    expect(v).toBeInstanceOf(Map);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('keeps extension types (uuid = 2) and raw string bytes', () => {
    const uuid = new MpExt(2, new Uint8Array(16).fill(7));
    const back = decode(encode(uuid)) as MpExt;
    expect(back.type).toBe(2);
    expect(Array.from(back.data)).toEqual(Array(16).fill(7));
    const w = new MpWriter();
    w.strBytes(new Uint8Array([0xff, 0x00, 0xc3]));
    expect(Array.from(new MpReader(w.toBytes()).strBytes())).toEqual([0xff, 0x00, 0xc3]);
  });

  it('rejects truncated, oversized and trailing input with MsgpackError', () => {
    expect(() => decode(fromHex('cd01'))).toThrow(MsgpackError);
    expect(() => decode(fromHex('ddffffffff'))).toThrow(MsgpackError);
    expect(() => decode(fromHex('0101'))).toThrow(MsgpackError);
    expect(() => decode(fromHex('c1'))).toThrow(MsgpackError);
  });

  it('round-trips arbitrary values (property)', () => {
    const leaf = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
      fc.string(),
      fc.uint8Array({ maxLength: 40 }),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(decode(encode(v as MpValue))).toEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('skip() consumes exactly one value of any shape (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (v, tail) => {
        const w = new MpWriter();
        w.value(v as MpValue);
        w.int(tail);
        const r = new MpReader(w.toBytes());
        r.skip();
        expect(r.value()).toBe(tail);
      }),
      { numRuns: 1000 },
    );
  });
});
