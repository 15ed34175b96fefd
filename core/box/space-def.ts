/**
 * Space and index definitions, and their round trip through `_space` / `_index` tuples in
 * Tarantool 1.10's layout (what net.box and tarantool-driver read from `_vspace` / `_vindex`):
 *   _space: [id, owner, name, engine, field_count, flags {}, format [{name, type, is_nullable?}]]
 *   _index: [space_id, iid, name, type, opts {unique}, parts [[fieldno, 'type'] | {field, type, is_nullable}]]
 */

import { mapGet, type MpObject, type MpValue } from '../codec/msgpack.ts';
import { boxErrors } from './errors.ts';
import { type FieldType, isMap, parseFieldType } from './field-types.ts';
import { isIndexableType, type KeyDef, type KeyPart, makeKeyDef, INDEX_PARTS_MAX } from './key-def.ts';
import type { Tuple } from './tuple.ts';

export const ENGINES = ['memtx', 'vinyl'] as const;
export type Engine = (typeof ENGINES)[number];
export const INDEX_TYPES = ['TREE', 'HASH'] as const;
export type IndexType = (typeof INDEX_TYPES)[number];

/** Tarantool's BOX_NAME_MAX. */
export const NAME_LENGTH_MAX = 65000;
/** Tarantool's BOX_INDEX_MAX. */
export const INDEXES_PER_SPACE_MAX = 128;
/** User spaces get ids from here (BOX_SYSTEM_ID_MAX + 1). */
export const USER_SPACE_ID_MIN = 512;
/** Tarantool's BOX_SPACE_MAX. */
export const SPACE_ID_MAX = 0x7fffffff;

export interface FormatField {
  readonly name: string;
  readonly type: FieldType;
  readonly isNullable: boolean;
}

export interface SpaceDef {
  readonly id: number;
  readonly owner: number;
  readonly name: string;
  readonly engine: Engine;
  readonly fieldCount: number;
  readonly flags: MpObject;
  readonly format: readonly FormatField[];
}

export interface IndexDef {
  readonly spaceId: number;
  readonly id: number;
  readonly name: string;
  readonly type: IndexType;
  readonly unique: boolean;
  readonly parts: readonly KeyPart[];
  readonly keyDef: KeyDef;
  /** Options beyond `unique`, kept verbatim (vinyl keeps its store name here). */
  readonly opts: MpObject;
}

function asUint(value: MpValue, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw boxErrors.illegalParams(`${what} must be a non-negative integer`);
  }
  return value;
}

function asName(value: MpValue, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > NAME_LENGTH_MAX) {
    throw boxErrors.illegalParams(`${what} must be a non-empty string`);
  }
  return value;
}

function toObject(value: MpValue): MpObject {
  if (value instanceof Map) {
    const out: MpObject = {};
    for (const [k, v] of value) out[String(k)] = v;
    return out;
  }
  if (isMap(value)) return { ...(value as MpObject) };
  return {};
}

export function parseFormat(raw: MpValue, spaceName: string): FormatField[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw boxErrors.createSpace(spaceName, 'format must be an array');
  const names = new Set<string>();
  return raw.map((entry: MpValue, i: number) => {
    if (!isMap(entry)) throw boxErrors.wrongSpaceFormat(i + 1, 'expected a map');
    const name = mapGet(entry, 'name');
    if (typeof name !== 'string' || name.length === 0) throw boxErrors.wrongSpaceFormat(i + 1, 'field name must be a string');
    if (names.has(name)) throw boxErrors.spaceFieldIsDuplicate(name);
    names.add(name);
    const typeRaw = mapGet(entry, 'type') ?? 'any';
    const type = typeof typeRaw === 'string' ? parseFieldType(typeRaw) : undefined;
    if (type === undefined) throw boxErrors.wrongSpaceFormat(i + 1, `unknown field type '${String(typeRaw)}'`);
    return { name, type, isNullable: mapGet(entry, 'is_nullable') === true };
  });
}

export function formatToValue(format: readonly FormatField[]): MpValue[] {
  return format.map((f) => {
    const out: MpObject = { name: f.name, type: f.type };
    if (f.isNullable) out['is_nullable'] = true;
    return out;
  });
}

export function spaceDefFromTuple(t: Tuple): SpaceDef {
  if (t.length < 7) throw boxErrors.illegalParams('_space tuple must have 7 fields');
  const id = asUint(t[0], 'space id');
  const name = asName(t[2], 'space name');
  const engineRaw = t[3];
  if (engineRaw !== 'memtx' && engineRaw !== 'vinyl') throw boxErrors.noSuchEngine(String(engineRaw));
  if (id > SPACE_ID_MAX) throw boxErrors.createSpace(name, 'space id is too big');
  return {
    id,
    owner: asUint(t[1], 'space owner'),
    name,
    engine: engineRaw,
    fieldCount: asUint(t[4], 'field count'),
    flags: toObject(t[5]),
    format: parseFormat(t[6], name),
  };
}

export function spaceDefToTuple(def: SpaceDef): MpValue[] {
  return [def.id, def.owner, def.name, def.engine, def.fieldCount, def.flags, formatToValue(def.format)];
}

function parsePart(raw: MpValue, partNo: number, format: readonly FormatField[]): KeyPart {
  let field: MpValue;
  let typeRaw: MpValue;
  let nullable: MpValue = false;
  if (Array.isArray(raw)) {
    [field, typeRaw] = raw as MpValue[];
  } else if (isMap(raw)) {
    field = mapGet(raw, 'field');
    typeRaw = mapGet(raw, 'type');
    nullable = mapGet(raw, 'is_nullable') ?? false;
  } else {
    throw boxErrors.wrongIndexParts(partNo, 'expected an array or a map');
  }
  if (typeof field === 'string') {
    const at = format.findIndex((f) => f.name === field);
    if (at < 0) throw boxErrors.wrongIndexParts(partNo, `field '${field}' was not found in the space format`);
    field = at;
  }
  if (typeof field !== 'number' || !Number.isInteger(field) || field < 0) {
    throw boxErrors.wrongIndexParts(partNo, 'field was not found by name');
  }
  const formatField = format[field];
  if (typeRaw === undefined || typeRaw === null) typeRaw = formatField?.type ?? 'unsigned';
  const type = typeof typeRaw === 'string' ? parseFieldType(typeRaw) : undefined;
  if (type === undefined || !isIndexableType(type)) {
    throw boxErrors.wrongIndexParts(partNo, `unknown field type`);
  }
  const isNullable = nullable === true || (formatField?.isNullable ?? false);
  return { fieldNo: field, type, isNullable };
}

export function parseParts(raw: MpValue, format: readonly FormatField[]): KeyPart[] {
  if (!Array.isArray(raw) || raw.length === 0) throw boxErrors.wrongIndexParts(1, 'expected a non-empty array');
  if (raw.length > INDEX_PARTS_MAX) throw boxErrors.wrongIndexParts(raw.length, 'too many parts');
  const parts = raw.map((p: MpValue, i: number) => parsePart(p, i + 1, format));
  const seen = new Set<number>();
  for (const p of parts) {
    if (seen.has(p.fieldNo)) throw boxErrors.wrongIndexParts(p.fieldNo + 1, 'duplicate field');
    seen.add(p.fieldNo);
  }
  return parts;
}

export function partsToValue(parts: readonly KeyPart[]): MpValue[] {
  return parts.map((p) =>
    p.isNullable ? { field: p.fieldNo, type: p.type, is_nullable: true } : [p.fieldNo, p.type],
  );
}

export function indexDefFromTuple(t: Tuple, format: readonly FormatField[]): IndexDef {
  if (t.length < 6) throw boxErrors.illegalParams('_index tuple must have 6 fields');
  const spaceId = asUint(t[0], 'space id');
  const id = asUint(t[1], 'index id');
  const name = asName(t[2], 'index name');
  const typeRaw = typeof t[3] === 'string' ? t[3].toUpperCase() : '';
  if (typeRaw !== 'TREE' && typeRaw !== 'HASH') throw boxErrors.indexType(name, String(spaceId));
  const opts = toObject(t[4]);
  const uniqueRaw = opts['unique'];
  const unique = uniqueRaw === undefined ? true : uniqueRaw === true;
  const parts = parseParts(t[5], format);
  return { spaceId, id, name, type: typeRaw, unique, parts, keyDef: makeKeyDef(parts), opts };
}

export function indexDefToTuple(def: IndexDef): MpValue[] {
  return [def.spaceId, def.id, def.name, def.type.toLowerCase(), { ...def.opts, unique: def.unique }, partsToValue(def.parts)];
}
