/**
 * A clusterwide table: tuples ordered by a primary key, changed only by applying Raft log
 * operations (so every instance holds the same rows at the same applied index).
 */

import { isMpMap, MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { BTreeMap } from '../lib/btree.ts';

export interface TableDef {
  readonly id: number;
  readonly name: string;
  /** Field names, in tuple order. */
  readonly fields: readonly string[];
  /** Tuple positions (0-based) of the primary key parts. */
  readonly primaryKey: readonly number[];
}

export type Key = readonly MpValue[];
export type Tuple = readonly MpValue[];

export type UpdateOp = readonly [op: string, field: number | string, ...args: MpValue[]];

export class TableError extends Error {
  override readonly name = 'TableError';
  /** Tarantool error code (3 TUPLE_FOUND, 4 TUPLE_NOT_FOUND, 29 UPDATE_FIELD, 28 UNKNOWN_UPDATE_OP...). */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const TYPE_RANK: Record<string, number> = { boolean: 1, number: 2, bigint: 2, string: 3 };

/** Orders scalar key parts: booleans < numbers < strings < anything else (by encoding rank). */
export function compareScalar(x: MpValue, y: MpValue): number {
  // A double compares as the number it holds (decoded integral doubles are MpFloat64).
  const a = x instanceof MpFloat64 ? x.value : x;
  const b = y instanceof MpFloat64 ? y.value : y;
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  const ra = TYPE_RANK[typeof a] ?? 4;
  const rb = TYPE_RANK[typeof b] ?? 4;
  if (ra !== rb) return ra - rb;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (ra === 2) return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
  if (typeof a === 'boolean') return (a ? 1 : 0) - (b ? 1 : 0);
  return 0;
}

export function compareKeys(a: Key, b: Key): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareScalar(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export class Table {
  readonly def: TableDef;
  private readonly rows = new BTreeMap<Key, Tuple>(compareKeys);
  /** Checks a tuple before it is stored; throws to refuse it (the table is left unchanged). */
  private readonly validate: (tuple: Tuple) => void;

  constructor(def: TableDef, validate: (tuple: Tuple) => void = () => {}) {
    assert(def.primaryKey.length > 0, `table ${def.name} needs a primary key`);
    this.def = def;
    this.validate = validate;
  }

  get size(): number {
    return this.rows.size;
  }

  keyOf(tuple: Tuple): Key {
    return this.def.primaryKey.map((i) => tuple[i]);
  }

  get(key: Key): Tuple | undefined {
    return this.rows.get(key);
  }

  *all(): IterableIterator<Tuple> {
    yield* this.rows.values();
  }

  insert(tuple: Tuple): Tuple {
    this.checkKey(tuple);
    const key = this.keyOf(tuple);
    if (this.rows.has(key)) {
      throw new TableError(3, `Duplicate key exists in unique index 'primary' in space '${this.def.name}'`);
    }
    this.rows.set(key, tuple);
    return tuple;
  }

  replace(tuple: Tuple): Tuple {
    this.checkKey(tuple);
    this.rows.set(this.keyOf(tuple), tuple);
    return tuple;
  }

  delete(key: Key): Tuple | undefined {
    return this.rows.delete(key);
  }

  /** Applies update ops; a missing row is not an error (Tarantool returns nothing). */
  update(key: Key, ops: readonly UpdateOp[]): Tuple | undefined {
    const old = this.rows.get(key);
    if (old === undefined) return undefined;
    const updated = applyUpdateOps(this.def, old, ops);
    this.validate(updated);
    if (compareKeys(this.keyOf(updated), key) !== 0) {
      throw new TableError(1, `Attempt to modify a tuple field which is part of index 'primary' in space '${this.def.name}'`);
    }
    this.rows.set(key, updated);
    return updated;
  }

  clear(): void {
    this.rows.clear();
  }

  private checkKey(tuple: Tuple): void {
    this.validate(tuple);
    for (const i of this.def.primaryKey) {
      const part = tuple[i];
      if (part === undefined || part === null) throw new TableError(39, `Tuple field ${i + 1} required by space format is missing`);
    }
  }
}

/**
 * Update ops on clusterwide tables. Fields are 1-based numbers (as in Lua) or names, with an
 * optional `[n]` path into an array field (`weight[1]`), as Picodata's raft log shows them.
 */
export function applyUpdateOps(def: TableDef, tuple: Tuple, ops: readonly UpdateOp[]): Tuple {
  const out = [...tuple] as MpValue[];
  for (const op of ops) {
    const [kind, field, arg] = op;
    const { index, path } = resolveField(def, field);
    if (index >= out.length && !(kind === '=' && index === out.length && path === undefined)) {
      throw new TableError(37, `Field ${String(field)} was not found in the tuple`);
    }
    if (path === undefined) out[index] = applyOne(kind, out[index], arg, field);
    else {
      const container = out[index];
      if (!Array.isArray(container) || path < 1 || path > container.length) throw new TableError(37, `Field ${String(field)} was not found in the tuple`);
      const copy = [...container] as MpValue[];
      copy[path - 1] = applyOne(kind, copy[path - 1], arg, field);
      out[index] = copy;
    }
  }
  return out;
}

function resolveField(def: TableDef, field: number | string): { index: number; path: number | undefined } {
  if (typeof field === 'number') {
    if (!Number.isInteger(field) || field < 1) throw new TableError(37, `Field ${field} was not found in the tuple`);
    return { index: field - 1, path: undefined };
  }
  const m = /^([A-Za-z_][\w]*)(?:\[(\d+)\])?$/.exec(field);
  const index = m === null ? -1 : def.fields.indexOf(m[1]!);
  if (m === null || index < 0) throw new TableError(37, `Field '${field}' was not found in the tuple`);
  return { index, path: m[2] === undefined ? undefined : Number(m[2]) };
}

function applyOne(kind: string, current: MpValue, arg: MpValue, field: number | string): MpValue {
  switch (kind) {
    case '=':
      return arg;
    case '+':
    case '-': {
      if (typeof current !== 'number' || typeof arg !== 'number') {
        throw new TableError(29, `Argument type in operation '${kind}' on field ${String(field)} does not match field type: expected a number`);
      }
      return kind === '+' ? current + arg : current - arg;
    }
    default:
      throw new TableError(28, `Unknown UPDATE operation #${kind}`);
  }
}

/** Plain-data copy of a decoded map (msgpack may hand back a Map or an object). */
export function mapEntries(value: MpValue): Array<[string, MpValue]> {
  if (!isMpMap(value)) return [];
  return value instanceof Map ? [...value].map(([k, v]) => [String(k), v]) : Object.entries(value);
}
