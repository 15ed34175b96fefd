import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpFloat64 } from '../../core/codec/msgpack.ts';
import { bucketIdMpcrc32, bucketIdStrcrc32, formatLuaNumber } from '../../core/vshard/hash.ts';

const N = 3000;

describe('vshard bucket ids (REFERENCE 5.1 vectors)', () => {
  it('strcrc32 hashes the text LuaJIT prints', () => {
    expect(bucketIdStrcrc32('1', N)).toBe(477);
    expect(bucketIdStrcrc32(1, N)).toBe(477);
    expect(bucketIdStrcrc32(1n, N)).toBe(982); // 1ULL
    expect(bucketIdStrcrc32('abc', N)).toBe(121);
    expect(bucketIdStrcrc32('hello', N)).toBe(2516);
  });

  it('strcrc32 of an array key is the hash of its parts back to back', () => {
    expect(bucketIdStrcrc32(['ab', 'c'], N)).toBe(bucketIdStrcrc32('abc', N));
    expect(bucketIdStrcrc32([1, 'x', true], N)).toBe(bucketIdStrcrc32('1xtrue', N));
  });

  it('mpcrc32 hashes strings raw and other values as msgpack', () => {
    expect(bucketIdMpcrc32(1, N)).toBe(1614);
    expect(bucketIdMpcrc32('1', N)).toBe(477);
    // A double from the wire is a plain Lua number in Tarantool, which msgpack writes as the
    // integer 1 (1614); the REFERENCE's 1411 is a Lua double cdata, which no client can send.
    expect(bucketIdMpcrc32(new MpFloat64(1), N)).toBe(1614);
    expect(bucketIdMpcrc32(new MpFloat64(2 ** 60), N)).toBe(bucketIdMpcrc32(2n ** 60n, N));
    expect(bucketIdMpcrc32(1.5, N)).toBe(bucketIdMpcrc32(new MpFloat64(1.5), N));
  });

  it('refuses parts Lua would print as an address', () => {
    expect(() => bucketIdStrcrc32([[1]], N)).toThrow(/must be a string, number or boolean, got an array/);
  });

  it('every bucket id is in 1..N', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true })), (key) => {
        for (const id of [bucketIdStrcrc32(key, N), bucketIdMpcrc32(key, N)]) {
          expect(Number.isInteger(id) && id >= 1 && id <= N).toBe(true);
        }
      }),
    );
  });
});

describe('formatLuaNumber (C %.14g)', () => {
  it.each([
    [1, '1'],
    [-3, '-3'],
    [0.1, '0.1'],
    [1 / 3, '0.33333333333333'],
    [100000, '100000'],
    [1e14, '1e+14'],
    [1e15, '1e+15'],
    [12345678901234, '12345678901234'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-10, '1.5e-10'],
    [2 ** 53, '9.007199254741e+15'],
    [-0, '-0'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ])('%s -> %s', (x, text) => {
    expect(formatLuaNumber(x)).toBe(text);
  });
});
