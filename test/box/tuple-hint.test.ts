import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpFloat64, type MpValue } from '../../core/codec/msgpack.ts';
import type { FieldType } from '../../core/box/field-types.ts';
import { makeKeyDef } from '../../core/box/key-def.ts';
import { compareValues, compileKeyHint, compileTupleHint, hintIsExact } from '../../core/box/tuple-compare.ts';

/** The hint contract: hints that are numbers and differ order the values as compareValues does. */
function checkContract(type: FieldType, values: MpValue[]): void {
  const def = makeKeyDef([{ fieldNo: 1, type, isNullable: true }]);
  const tupleHint = compileTupleHint(def);
  const keyHint = compileKeyHint(def);
  const exact = hintIsExact(def);
  expect(exact).toBe(type !== 'string');
  for (const a of values) {
    const ha = tupleHint([0, a]);
    expect(Object.is(keyHint([a]), ha)).toBe(true);
    for (const b of values) {
      const hb = tupleHint([0, b]);
      if (ha < hb) expect(compareValues(a, b)).toBeLessThan(0);
      if (ha > hb) expect(compareValues(a, b)).toBeGreaterThan(0);
      if (exact && ha === hb) expect(compareValues(a, b) === 0).toBe(true); // -0 counts as equal
    }
  }
}

describe('comparison hints', () => {
  it('order numbers of every representation as the comparator does (property)', () => {
    const num = fc.oneof(
      fc.double(),
      fc.integer({ min: -1000, max: 1000 }),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
      fc.double().map((d) => new MpFloat64(d)),
      fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60, 2n ** 60n, 2n ** 60n + 1n, 2n ** 53n - 1n, null, 'str', true),
    );
    fc.assert(fc.property(fc.array(num, { maxLength: 30 }), (values) => checkContract('scalar', values)), { numRuns: 300 });
  });

  it('order strings by their UTF-8 bytes, astral characters included (property)', () => {
    const str = fc.oneof(
      fc.string({ maxLength: 5, unit: 'binary' }),
      fc.constantFrom('', 'a', 'ab', 'abc', 'abcd', '\u0000', '\uE000', '\uFFFF', '\u{1F600}', 'a\u{1F600}', null),
    );
    fc.assert(fc.property(fc.array(str, { maxLength: 30 }), (values) => checkContract('string', values)), { numRuns: 300 });
  });

  it('leave other types and empty keys without a hint', () => {
    const def = makeKeyDef([{ fieldNo: 0, type: 'varbinary', isNullable: false }]);
    expect(compileTupleHint(def)([new Uint8Array(1)])).toBeNaN();
    expect(compileKeyHint(makeKeyDef([{ fieldNo: 0, type: 'unsigned', isNullable: false }]))([])).toBeNaN();
  });
});
