/**
 * Tarantool's ordering of values, and comparators compiled per key definition.
 *
 * Across types (scalar and nullable parts): nil < boolean < number < string < varbinary < uuid <
 * other extensions < array < map. Numbers compare by value whatever their representation (int,
 * float, bigint, forced double). Strings compare by their UTF-8 bytes (binary collation), which
 * differs from JS's UTF-16 order only between astral characters and U+E000..U+FFFF.
 */

import { compareBytes } from '../lib/bytes.ts';
import { MpExt, MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { isMap, MP_EXT_DECIMAL, MP_EXT_UUID } from './field-types.ts';
import type { KeyDef } from './key-def.ts';
import type { Key, Tuple } from './tuple.ts';

const CLASS_NIL = 0;
const CLASS_BOOL = 1;
const CLASS_NUMBER = 2;
const CLASS_STRING = 3;
const CLASS_BINARY = 4;
const CLASS_UUID = 5;
const CLASS_EXT = 6;
const CLASS_ARRAY = 7;
const CLASS_MAP = 8;

export function valueClass(value: MpValue): number {
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return CLASS_NUMBER;
    case 'string':
      return CLASS_STRING;
    case 'boolean':
      return CLASS_BOOL;
    case 'undefined':
      return CLASS_NIL;
    default:
      break;
  }
  if (value === null) return CLASS_NIL;
  if (value instanceof Uint8Array) return CLASS_BINARY;
  if (value instanceof MpFloat64) return CLASS_NUMBER;
  if (Array.isArray(value)) return CLASS_ARRAY;
  if (value instanceof MpExt) {
    if (value.type === MP_EXT_UUID) return CLASS_UUID;
    // Decimals order after uuids here, not among numbers: decimal arithmetic is not implemented.
    if (value.type === MP_EXT_DECIMAL) return CLASS_EXT;
    return CLASS_EXT;
  }
  return isMap(value) ? CLASS_MAP : CLASS_EXT;
}

function numberOf(value: MpValue): number | bigint {
  if (value instanceof MpFloat64) return value.value;
  return value as number | bigint;
}

/** Orders NaN below every number (Tarantool's rule) so the trees stay totally ordered. */
function compareFloats(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  const aNaN = a !== a;
  const bNaN = b !== b;
  if (aNaN && bNaN) return 0;
  return aNaN ? -1 : 1;
}

function compareBigWithNumber(a: bigint, b: number): number {
  if (b !== b) return 1;
  if (b === Infinity) return -1;
  if (b === -Infinity) return 1;
  if (Number.isInteger(b)) {
    const bb = BigInt(b);
    return a < bb ? -1 : a > bb ? 1 : 0;
  }
  // b has a fraction: a can never equal it.
  return a <= BigInt(Math.floor(b)) ? -1 : 1;
}

export function compareNumbers(x: number | bigint, y: number | bigint): number {
  if (typeof x === 'number') {
    if (typeof y === 'number') return compareFloats(x, y);
    return -compareBigWithNumber(y, x);
  }
  if (typeof y === 'number') return compareBigWithNumber(x, y);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Binary (UTF-8 byte) order of two JS strings without encoding them. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      // Surrogates (astral characters) come after U+E000..U+FFFF in UTF-8.
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/** Total order over any two msgpack values (scalar rules, then structural for arrays/maps). */
export function compareValues(a: MpValue, b: MpValue): number {
  if (typeof a === 'number' && typeof b === 'number') return compareFloats(a, b);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  const ca = valueClass(a);
  const cb = valueClass(b);
  if (ca !== cb) return ca - cb;
  switch (ca) {
    case CLASS_NIL:
      return 0;
    case CLASS_BOOL:
      return (a ? 1 : 0) - (b ? 1 : 0);
    case CLASS_NUMBER:
      return compareNumbers(numberOf(a), numberOf(b));
    case CLASS_STRING:
      return compareStrings(a as string, b as string);
    case CLASS_BINARY:
      return compareBytes(a as Uint8Array, b as Uint8Array);
    case CLASS_UUID:
      return compareBytes((a as MpExt).data, (b as MpExt).data);
    case CLASS_EXT:
      return compareExt(a, b);
    case CLASS_ARRAY:
      return compareArrays(a as readonly MpValue[], b as readonly MpValue[]);
    default:
      return 0; // maps are not ordered by Tarantool either; they never appear in index parts
  }
}

function compareExt(a: MpValue, b: MpValue): number {
  if (!(a instanceof MpExt) || !(b instanceof MpExt)) return 0;
  if (a.type !== b.type) return a.type - b.type;
  return compareBytes(a.data, b.data);
}

function compareArrays(a: readonly MpValue[], b: readonly MpValue[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export type TupleComparator = (a: Tuple, b: Tuple) => number;
export type KeyComparator = (tuple: Tuple, key: Key) => number;

/**
 * Compares two tuples over the key definition's parts. Single numeric parts get a specialised
 * function: this is the primary-key hot path of every get and replace.
 */
export function compileTupleComparator(def: KeyDef): TupleComparator {
  const parts = def.parts;
  if (parts.length === 1 && def.numericOnly) {
    const f = parts[0]!.fieldNo;
    return (a, b) => {
      const x = a[f];
      const y = b[f];
      if (typeof x === 'number' && typeof y === 'number') {
        const d = x - y;
        if (d === d) return d;
      }
      return compareValues(x, y);
    };
  }
  if (parts.length === 1) {
    const f = parts[0]!.fieldNo;
    return (a, b) => compareValues(a[f], b[f]);
  }
  const fields = parts.map((p) => p.fieldNo);
  const n = fields.length;
  return (a, b) => {
    for (let i = 0; i < n; i++) {
      const f = fields[i]!;
      const c = compareValues(a[f], b[f]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/**
 * Compares a tuple with a (possibly partial) key: only the key's parts take part, so every tuple
 * whose prefix equals the key compares equal to it (what EQ/GE/GT on partial keys need).
 */
export function compileKeyComparator(def: KeyDef): KeyComparator {
  const parts = def.parts;
  if (parts.length === 1 && def.numericOnly) {
    const f = parts[0]!.fieldNo;
    return (tuple, key) => {
      if (key.length === 0) return 0;
      const x = tuple[f];
      const y = key[0];
      if (typeof x === 'number' && typeof y === 'number') {
        const d = x - y;
        if (d === d) return d;
      }
      return compareValues(x, y);
    };
  }
  const fields = parts.map((p) => p.fieldNo);
  return (tuple, key) => {
    const n = key.length < fields.length ? key.length : fields.length;
    for (let i = 0; i < n; i++) {
      const c = compareValues(tuple[fields[i]!], key[i]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

// ---------------------------------------------------------------------------------------------
// Comparison hints (memtx TREE): a number per tuple that orders tuples on the first key part
// without a comparator call. See HintOf in core/lib/btree.ts for the contract; NaN = no hint.

export type TupleHint = (tuple: Tuple) => number;
export type KeyHint = (key: Key) => number;

const SAFE_BIGINT_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_BIGINT_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Numbers of every representation by value; any other value has no hint, and neither has a
 * bigint beyond 2^53 (its Number would round): so equal hints mean equal numbers (exact).
 */
function numericHint(value: MpValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return value >= SAFE_BIGINT_MIN && value <= SAFE_BIGINT_MAX ? Number(value) : NaN;
  if (value instanceof MpFloat64) return value.value;
  return NaN;
}

const HINT_STRING_BASE = 0x10001;

/**
 * The first three UTF-16 units of a string in binary (UTF-8) order, shifted by one so that an
 * absent unit (a shorter string) sorts first: at most 0x10000 * (base^2 + base + 1) < 2^49.
 */
function stringHint(value: MpValue): number {
  if (typeof value !== 'string') return NaN;
  let hint = 0;
  for (let i = 0; i < 3; i++) {
    let digit = 0;
    if (i < value.length) {
      const c = value.charCodeAt(i);
      digit = (c < 0xd800 ? c : c >= 0xe000 ? c - 0x800 : c + 0x2000) + 1;
    }
    hint = hint * HINT_STRING_BASE + digit;
  }
  return hint;
}

function hintFunction(def: KeyDef): ((value: MpValue) => number) | null {
  switch (def.parts[0]!.type) {
    case 'unsigned':
    case 'integer':
    case 'number':
    case 'double':
    case 'scalar':
      return numericHint;
    case 'string':
      return stringHint;
    default:
      return null;
  }
}

/**
 * Whether equal (non-NaN) hints under `def` mean equal keys: a single part with numeric hints,
 * which are exact (two numbers with the same value compare equal in every representation).
 */
export function hintIsExact(def: KeyDef): boolean {
  return def.parts.length === 1 && hintFunction(def) === numericHint;
}

/** The hint of a tuple under `def` (from its first part). */
export function compileTupleHint(def: KeyDef): TupleHint {
  const f = def.parts[0]!.fieldNo;
  const hint = hintFunction(def);
  if (hint === numericHint) {
    return (tuple) => {
      const v = tuple[f];
      return typeof v === 'number' ? v : numericHint(v);
    };
  }
  if (hint === null) return () => NaN;
  return (tuple) => hint(tuple[f]);
}

/** The hint of a (possibly partial) search key under `def`; an empty key has none. */
export function compileKeyHint(def: KeyDef): KeyHint {
  const hint = hintFunction(def);
  if (hint === numericHint) {
    return (key) => {
      const v = key[0];
      return typeof v === 'number' ? v : key.length === 0 ? NaN : numericHint(v);
    };
  }
  if (hint === null) return () => NaN;
  return (key) => (key.length === 0 ? NaN : hint(key[0]));
}
