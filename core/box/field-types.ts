/**
 * Tarantool field types and the check of one value against one type.
 *
 * A JS number is an integer type when it is integral and a double otherwise; an integral double
 * is an `MpFloat64` (the decoder keeps the msgpack type that way), which `unsigned` and `integer`
 * refuse, as Tarantool does.
 */

import { MpExt, MpFloat64, type MpValue } from '../codec/msgpack.ts';

export const FIELD_TYPES = [
  'any',
  'unsigned',
  'integer',
  'number',
  'double',
  'string',
  'boolean',
  'varbinary',
  'uuid',
  'decimal',
  'scalar',
  'array',
  'map',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Types an index part may have (TREE/HASH can only order scalars). */
export const INDEXABLE_TYPES: ReadonlySet<FieldType> = new Set<FieldType>([
  'unsigned',
  'integer',
  'number',
  'double',
  'string',
  'boolean',
  'varbinary',
  'uuid',
  'scalar',
]);

export const MP_EXT_DECIMAL = 1;
export const MP_EXT_UUID = 2;
export const UUID_SIZE_BYTES = 16;

const UINT64_MAX = 0xffffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

/** Aliases Tarantool accepts in formats and index parts. */
const TYPE_ALIASES: Readonly<Record<string, FieldType>> = {
  num: 'unsigned',
  uint: 'unsigned',
  int: 'integer',
  str: 'string',
  bool: 'boolean',
  '*': 'any',
};

export function parseFieldType(name: string): FieldType | undefined {
  const lower = name.toLowerCase();
  const alias = TYPE_ALIASES[lower];
  if (alias !== undefined) return alias;
  return (FIELD_TYPES as readonly string[]).includes(lower) ? (lower as FieldType) : undefined;
}

export function isMap(value: MpValue): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Uint8Array || value instanceof MpExt) return false;
  return !(value instanceof MpFloat64);
}

export function isUuid(value: MpValue): value is MpExt {
  return value instanceof MpExt && value.type === MP_EXT_UUID && value.data.length === UUID_SIZE_BYTES;
}

function isInteger(value: MpValue): boolean {
  if (typeof value === 'number') return Number.isInteger(value);
  if (typeof value === 'bigint') return value >= INT64_MIN && value <= UINT64_MAX;
  return false;
}

function isUnsigned(value: MpValue): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0;
  if (typeof value === 'bigint') return value >= 0n && value <= UINT64_MAX;
  return false;
}

export function isNumber(value: MpValue): boolean {
  return (
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    value instanceof MpFloat64 ||
    (value instanceof MpExt && value.type === MP_EXT_DECIMAL)
  );
}

/** True when `value` (not nil) belongs to `type`. Nil handling is the caller's (is_nullable). */
export function valueMatchesType(value: MpValue, type: FieldType): boolean {
  switch (type) {
    case 'any':
      return true;
    case 'unsigned':
      return isUnsigned(value);
    case 'integer':
      return isInteger(value);
    case 'number':
      return isNumber(value);
    case 'double':
      return typeof value === 'number' || value instanceof MpFloat64;
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'varbinary':
      return value instanceof Uint8Array;
    case 'uuid':
      return isUuid(value);
    case 'decimal':
      return value instanceof MpExt && value.type === MP_EXT_DECIMAL;
    case 'scalar':
      return !Array.isArray(value) && !isMap(value) && value !== null && value !== undefined;
    case 'array':
      return Array.isArray(value);
    case 'map':
      return isMap(value);
  }
}

