/**
 * Key definitions: which tuple fields an index orders by, with their types, and the checks of
 * search keys against them.
 */

import { assert } from '../lib/assert.ts';
import type { MpValue } from '../codec/msgpack.ts';
import { boxErrors } from './errors.ts';
import { INDEXABLE_TYPES, type FieldType, valueMatchesType } from './field-types.ts';
import type { Key } from './tuple.ts';

/** Tarantool's limit on parts per index (box.schema.INDEX_PART_MAX is 255 in 1.10). */
export const INDEX_PARTS_MAX = 255;

export interface KeyPart {
  /** 0-based field number. */
  readonly fieldNo: number;
  readonly type: FieldType;
  readonly isNullable: boolean;
}

export interface KeyDef {
  readonly parts: readonly KeyPart[];
  /** Every part is unsigned/integer/number/double and not nullable: the numeric fast path. */
  readonly numericOnly: boolean;
}

const NUMERIC: ReadonlySet<FieldType> = new Set<FieldType>(['unsigned', 'integer', 'number', 'double']);

export function makeKeyDef(parts: readonly KeyPart[]): KeyDef {
  assert(parts.length > 0 && parts.length <= INDEX_PARTS_MAX, 'key part count');
  for (const p of parts) assert(Number.isInteger(p.fieldNo) && p.fieldNo >= 0, 'key part field number');
  const numericOnly = parts.every((p) => NUMERIC.has(p.type) && !p.isNullable);
  return { parts, numericOnly };
}

/** The secondary key extended with the primary key's parts that it lacks (Tarantool's cmp_def). */
export function extendKeyDef(secondary: KeyDef, primary: KeyDef): KeyDef {
  const parts = [...secondary.parts];
  for (const p of primary.parts) {
    if (!parts.some((q) => q.fieldNo === p.fieldNo)) parts.push(p);
  }
  return makeKeyDef(parts);
}

export function isIndexableType(type: FieldType): boolean {
  return INDEXABLE_TYPES.has(type);
}

/** The key of `tuple` under `def`. */
export function extractKey(def: KeyDef, tuple: readonly MpValue[]): MpValue[] {
  const parts = def.parts;
  const key = new Array<MpValue>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const v = tuple[parts[i]!.fieldNo];
    key[i] = v === undefined ? null : v;
  }
  return key;
}

/** Checks a search key: at most as many parts as the index, each of the part's type. */
export function validateKey(def: KeyDef, key: Key): void {
  if (!Array.isArray(key)) throw boxErrors.tupleNotArray();
  const parts = def.parts;
  if (key.length > parts.length) throw boxErrors.keyPartCount(parts.length, key.length);
  for (let i = 0; i < key.length; i++) {
    const part = parts[i]!;
    const v = key[i];
    if (v === null || v === undefined) {
      if (part.isNullable) continue;
      throw boxErrors.keyPartType(i, part.type);
    }
    if (!valueMatchesType(v, part.type)) throw boxErrors.keyPartType(i, part.type);
  }
}

/** Checks a key that must name exactly one tuple (get, delete, update). */
export function validateExactKey(def: KeyDef, key: Key): void {
  if (!Array.isArray(key)) throw boxErrors.tupleNotArray();
  if (key.length !== def.parts.length) throw boxErrors.exactMatch(def.parts.length, key.length);
  validateKey(def, key);
}

/** True when the key has a nil in some part: such keys never collide in a unique index. */
export function keyHasNull(def: KeyDef, tuple: readonly MpValue[]): boolean {
  for (const p of def.parts) {
    const v = tuple[p.fieldNo];
    if (v === null || v === undefined) return true;
  }
  return false;
}
