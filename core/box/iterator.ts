/** Iterator types with iproto's numbers (REFERENCE 4.4). */

import { boxErrors } from './errors.ts';

export const ITERATOR_TYPES = ['EQ', 'REQ', 'ALL', 'LT', 'LE', 'GE', 'GT'] as const;
export type IteratorType = (typeof ITERATOR_TYPES)[number];

/** iproto ITERATOR codes: EQ 0, REQ 1, ALL 2, LT 3, LE 4, GE 5, GT 6. */
export function iteratorFromCode(code: number): IteratorType {
  const type = ITERATOR_TYPES[code];
  if (type === undefined) throw boxErrors.iteratorType(String(code));
  return type;
}

export function parseIterator(value: IteratorType | number | string | undefined): IteratorType {
  if (value === undefined) return 'EQ';
  if (typeof value === 'number') return iteratorFromCode(value);
  const upper = value.toUpperCase();
  if ((ITERATOR_TYPES as readonly string[]).includes(upper)) return upper as IteratorType;
  throw boxErrors.iteratorType(value);
}

/** Iterators that walk the index backwards. */
export function isReverse(type: IteratorType): boolean {
  return type === 'REQ' || type === 'LT' || type === 'LE';
}
