/** Iterator types with iproto's numbers (REFERENCE 4.4). */

import { boxErrors } from './errors.ts';

/** The iterators TREE, HASH and vinyl indexes walk, in iproto code order (EQ 0 ... GT 6). */
const ITERATOR_TYPES = ['EQ', 'REQ', 'ALL', 'LT', 'LE', 'GE', 'GT'] as const;
export type IteratorType = (typeof ITERATOR_TYPES)[number];

/** Codes 7-11: BITSET and RTREE iterators, which Tarantool knows and these indexes refuse. */
const FOREIGN_ITERATOR_TYPES = ['BITS_ALL_SET', 'BITS_ANY_SET', 'BITS_ALL_NOT_SET', 'OVERLAPS', 'NEIGHBOR'] as const;
type ForeignIteratorType = (typeof FOREIGN_ITERATOR_TYPES)[number];
export type AnyIteratorType = IteratorType | ForeignIteratorType;

const FOREIGN = new Set<string>(FOREIGN_ITERATOR_TYPES);

export function isForeignIterator(type: AnyIteratorType): type is ForeignIteratorType {
  return FOREIGN.has(type);
}

/** iproto ITERATOR codes: EQ 0 ... GT 6, then the foreign ones 7-11; others are invalid. */
export function iteratorFromCode(code: number): AnyIteratorType {
  const type = ITERATOR_TYPES[code] ?? FOREIGN_ITERATOR_TYPES[code - ITERATOR_TYPES.length];
  if (type === undefined) throw boxErrors.illegalParams('Invalid iterator type');
  return type;
}

export function parseIterator(value: IteratorType | number | string | undefined): AnyIteratorType {
  if (value === undefined) return 'EQ';
  if (typeof value === 'number') return iteratorFromCode(value);
  const upper = value.toUpperCase();
  if ((ITERATOR_TYPES as readonly string[]).includes(upper) || FOREIGN.has(upper)) return upper as AnyIteratorType;
  throw boxErrors.iteratorType(value);
}

/** Iterators that walk the index backwards. */
export function isReverse(type: IteratorType): boolean {
  return type === 'REQ' || type === 'LT' || type === 'LE';
}
