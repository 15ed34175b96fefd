/**
 * memtx HASH index (unique only): a Map from a canonical key to the tuple. Iteration order is the
 * Map's insertion order, deterministic like everything else here. Supports EQ with a full key,
 * ALL, and GT (the tuples after the key's position), as Tarantool's hash does.
 */

import { assert } from '../lib/assert.ts';
import { MpExt, MpFloat64, narrowInteger, type MpValue } from '../codec/msgpack.ts';
import { toHex } from '../lib/bytes.ts';
import type { EngineIndex, TupleVisitor } from './engine-index.ts';
import type { IteratorType } from './iterator.ts';
import type { IndexDef } from './space-def.ts';
import type { Key, Tuple } from './tuple.ts';

type HashKey = string | number | bigint;

/**
 * Equal values (by Tarantool's comparison) map to equal hash keys: numbers of every
 * representation normalise to one, other classes are tagged so 1 and "1" never collide.
 */
function valueKey(value: MpValue): string {
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return `n${numberKey(value)}`;
    case 'string':
      return `s${value.length}:${value}`;
    case 'boolean':
      return value ? 'T' : 'F';
    default:
      break;
  }
  if (value === null || value === undefined) return '~';
  if (value instanceof MpFloat64) return `n${numberKey(value.value)}`;
  if (value instanceof Uint8Array) return `b${toHex(value)}`;
  if (value instanceof MpExt) return `x${value.type}:${toHex(value.data)}`;
  return `?${JSON.stringify(value)}`;
}

/**
 * One key per numeric value, however it arrived: a safe integer or a fraction as a number, any
 * larger integer as a bigint (so 2^60 as a double and as an integer meet), -0 as 0.
 */
function numberKey(value: number | bigint): number | bigint {
  if (typeof value === 'bigint') return narrowInteger(value);
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return BigInt(value);
  return Object.is(value, -0) ? 0 : value;
}

export class HashIndex implements EngineIndex {
  readonly def: IndexDef;
  private readonly map = new Map<HashKey, Tuple>();
  private readonly fields: number[];
  /** Single numeric part: the number itself is the key (the common case, and the fast one). */
  private readonly singleNumeric: boolean;

  constructor(def: IndexDef) {
    assert(def.unique, 'HASH indexes are unique');
    this.def = def;
    this.fields = def.parts.map((p) => p.fieldNo);
    this.singleNumeric = def.parts.length === 1 && def.keyDef.numericOnly;
  }

  private keyOfValues(values: readonly MpValue[], picker: (i: number) => MpValue): HashKey {
    if (this.singleNumeric) {
      const v = picker(0);
      if (typeof v === 'number' || typeof v === 'bigint') return numberKey(v);
      // A double is the same key as the integer it equals (1.0 and 1 collide in a unique index).
      if (v instanceof MpFloat64) return numberKey(v.value);
      return valueKey(v);
    }
    let out = '';
    for (let i = 0; i < values.length; i++) out += valueKey(picker(i)) + '|';
    return out;
  }

  private keyOfTuple(tuple: Tuple): HashKey {
    return this.keyOfValues(this.fields, (i) => tuple[this.fields[i]!]);
  }

  private keyOfKey(key: Key): HashKey {
    return this.keyOfValues(key, (i) => key[i]);
  }

  size(): number {
    return this.map.size;
  }

  get(key: Key): Tuple | undefined {
    return this.map.get(this.keyOfKey(key));
  }

  findByTuple(tuple: Tuple): Tuple | undefined {
    return this.map.get(this.keyOfTuple(tuple));
  }

  insert(tuple: Tuple): void {
    const k = this.keyOfTuple(tuple);
    if (this.map.has(k)) assert(false, `hash index ${this.def.name}: insert over an existing entry`);
    this.map.set(k, tuple);
  }

  replace(old: Tuple, next: Tuple): void {
    this.remove(old);
    this.insert(next);
  }

  remove(tuple: Tuple): void {
    const removed = this.map.delete(this.keyOfTuple(tuple));
    if (!removed) assert(false, `hash index ${this.def.name}: remove of a missing entry`);
  }

  clear(): void {
    this.map.clear();
  }

  iterate(type: IteratorType, key: Key, visit: TupleVisitor): void {
    if (type === 'EQ' && key.length > 0) {
      const t = this.get(key);
      if (t !== undefined) visit(t);
      return;
    }
    if (type === 'GT' && key.length > 0) {
      const start = this.keyOfKey(key);
      let after = false;
      for (const [k, t] of this.map) {
        if (after && !visit(t)) return;
        if (k === start) after = true;
      }
      return;
    }
    for (const t of this.map.values()) if (!visit(t)) return;
  }
}
