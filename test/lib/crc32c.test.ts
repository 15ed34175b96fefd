import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cTarantool, crc32cUpdate } from '../../core/lib/crc32c.ts';

/** The deliberately simple reference: bit by bit, reflected polynomial 0x82F63B78. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('crc32c', () => {
  it('matches the published check values', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 zero bytes
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 0xFF bytes
    expect(crc32cTarantool(new Uint8Array(0))).toBe(4294967295);
  });

  it('matches a bitwise reference for any bytes, range and split (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        expect(crc32c(bytes)).toBe(crc32cBitwise(bytes));
        const start = bytes.length === 0 ? 0 : a % bytes.length;
        const end = start + (bytes.length === start ? 0 : b % (bytes.length - start + 1));
        expect(crc32c(bytes, start, end)).toBe(crc32cBitwise(bytes.subarray(start, end)));
        const mid = start + ((end - start) >> 1);
        const split = crc32cUpdate(crc32cUpdate(0xffffffff, bytes, start, mid), bytes, mid, end);
        expect((split ^ 0xffffffff) >>> 0).toBe(crc32cBitwise(bytes.subarray(start, end)));
      }),
      { numRuns: 500 },
    );
  });
});
