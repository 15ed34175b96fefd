/** A tuple is an array of msgpack values; a key is the values of an index's parts, in order. */

import type { MpValue } from '../codec/msgpack.ts';

export type Tuple = readonly MpValue[];
export type Key = readonly MpValue[];

/** Tuples are shared between indexes, transactions and readers: nobody may change one in place. */
export function freezeTuple(tuple: readonly MpValue[]): Tuple {
  return Object.isFrozen(tuple) ? tuple : Object.freeze(tuple);
}

/**
 * A fresh, mutable array with the fields of `input` (which the caller keeps owning), to become
 * a tuple. Tuples up to 8 fields are built by array literals rather than slice(): V8 tracks a
 * literal's allocation site, and when most of what a site allocates outlives young-generation
 * collections (tuples sit in indexes) it allocates straight in the old generation
 * ("pretenuring"), instead of copying every tuple twice through the young generation. This is
 * the JS counterpart of memtx allocating tuples in its own arena. A hole in `input` becomes an
 * explicit undefined (read the same way: nil).
 */
export function copyFields(input: readonly MpValue[]): MpValue[] {
  switch (input.length) {
    case 1:
      return [input[0]];
    case 2:
      return [input[0], input[1]];
    case 3:
      return [input[0], input[1], input[2]];
    case 4:
      return [input[0], input[1], input[2], input[3]];
    case 5:
      return [input[0], input[1], input[2], input[3], input[4]];
    case 6:
      return [input[0], input[1], input[2], input[3], input[4], input[5]];
    case 7:
      return [input[0], input[1], input[2], input[3], input[4], input[5], input[6]];
    case 8:
      return [input[0], input[1], input[2], input[3], input[4], input[5], input[6], input[7]];
    default:
      return input.slice();
  }
}

/** Freezes an array known to be fresh (not yet frozen, owned by box). */
export function freezeFresh(fields: MpValue[]): Tuple {
  return Object.freeze(fields);
}
