/** A tuple is an array of msgpack values; a key is the values of an index's parts, in order. */

import type { MpValue } from '../codec/msgpack.ts';

export type Tuple = readonly MpValue[];
export type Key = readonly MpValue[];

/** Tuples are shared between indexes, transactions and readers: nobody may change one in place. */
export function freezeTuple(tuple: readonly MpValue[]): Tuple {
  return Object.isFrozen(tuple) ? tuple : Object.freeze(tuple);
}
