/**
 * System spaces with Tarantool's ids, formats and indexes (1.10 layout), and the tuples a new
 * instance starts with. Their definitions are built in (like Tarantool's bootstrap snapshot);
 * their rows in `_space` / `_index` exist too, so connectors discover them like any space.
 * `_v*` spaces are read-only views sharing the indexes of the space they show.
 */

import type { MpObject, MpValue } from '../codec/msgpack.ts';
import { makeKeyDef, type KeyPart } from './key-def.ts';
import type { FieldType } from './field-types.ts';
import type { FormatField, IndexDef, SpaceDef } from './space-def.ts';

export const SystemSpaceId = {
  _schema: 272,
  _space: 280,
  _vspace: 281,
  _sequence: 284,
  _sequence_data: 285,
  _index: 288,
  _vindex: 289,
  _func: 296,
  _vfunc: 297,
  _user: 304,
  _vuser: 305,
  _priv: 312,
  _vpriv: 313,
  _cluster: 320,
  _space_sequence: 340,
} as const;

export const ADMIN_USER_ID = 1;
export const GUEST_USER_ID = 0;
export const PUBLIC_ROLE_ID = 2;
export const REPLICATION_ROLE_ID = 3;
export const SUPER_ROLE_ID = 31;

interface SystemIndex {
  readonly name: string;
  readonly unique: boolean;
  readonly parts: ReadonlyArray<readonly [number, FieldType]>;
}

export interface SystemSpace {
  readonly def: SpaceDef;
  readonly indexes: readonly IndexDef[];
  /** For views: the id of the space they show. */
  readonly viewOf: number | null;
}

function fields(list: ReadonlyArray<readonly [string, FieldType]>): FormatField[] {
  return list.map(([name, type]) => ({ name, type, isNullable: false }));
}

const FORMATS: Readonly<Record<string, ReadonlyArray<readonly [string, FieldType]>>> = {
  _schema: [['key', 'string']],
  _space: [
    ['id', 'unsigned'],
    ['owner', 'unsigned'],
    ['name', 'string'],
    ['engine', 'string'],
    ['field_count', 'unsigned'],
    ['flags', 'map'],
    ['format', 'array'],
  ],
  _sequence: [
    ['id', 'unsigned'],
    ['owner', 'unsigned'],
    ['name', 'string'],
    ['step', 'integer'],
    ['min', 'integer'],
    ['max', 'integer'],
    ['start', 'integer'],
    ['cache', 'integer'],
    ['cycle', 'boolean'],
  ],
  _sequence_data: [
    ['id', 'unsigned'],
    ['value', 'integer'],
  ],
  _index: [
    ['id', 'unsigned'],
    ['iid', 'unsigned'],
    ['name', 'string'],
    ['type', 'string'],
    ['opts', 'map'],
    ['parts', 'array'],
  ],
  _func: [
    ['id', 'unsigned'],
    ['owner', 'unsigned'],
    ['name', 'string'],
    ['setuid', 'unsigned'],
  ],
  _user: [
    ['id', 'unsigned'],
    ['owner', 'unsigned'],
    ['name', 'string'],
    ['type', 'string'],
    ['auth', 'map'],
  ],
  _priv: [
    ['grantor', 'unsigned'],
    ['grantee', 'unsigned'],
    ['object_type', 'string'],
    ['object_id', 'scalar'],
    ['privilege', 'unsigned'],
  ],
  _cluster: [
    ['id', 'unsigned'],
    ['uuid', 'string'],
  ],
  _space_sequence: [
    ['id', 'unsigned'],
    ['sequence_id', 'unsigned'],
    ['is_generated', 'boolean'],
  ],
};

const byIdOwnerName: SystemIndex[] = [
  { name: 'primary', unique: true, parts: [[0, 'unsigned']] },
  { name: 'owner', unique: false, parts: [[1, 'unsigned']] },
  { name: 'name', unique: true, parts: [[2, 'string']] },
];

const INDEXES: Readonly<Record<string, SystemIndex[]>> = {
  _schema: [{ name: 'primary', unique: true, parts: [[0, 'string']] }],
  _space: byIdOwnerName,
  _sequence: byIdOwnerName,
  _sequence_data: [{ name: 'primary', unique: true, parts: [[0, 'unsigned']] }],
  _index: [
    { name: 'primary', unique: true, parts: [[0, 'unsigned'], [1, 'unsigned']] },
    { name: 'name', unique: true, parts: [[0, 'unsigned'], [2, 'string']] },
  ],
  _func: byIdOwnerName,
  _user: byIdOwnerName,
  _priv: [
    { name: 'primary', unique: true, parts: [[1, 'unsigned'], [2, 'string'], [3, 'scalar']] },
    { name: 'owner', unique: false, parts: [[0, 'unsigned']] },
    { name: 'object', unique: false, parts: [[2, 'string'], [3, 'scalar']] },
  ],
  _cluster: [
    { name: 'primary', unique: true, parts: [[0, 'unsigned']] },
    { name: 'uuid', unique: true, parts: [[1, 'string']] },
  ],
  _space_sequence: [
    { name: 'primary', unique: true, parts: [[0, 'unsigned']] },
    { name: 'sequence', unique: false, parts: [[1, 'unsigned']] },
  ],
};

const VIEWS: Readonly<Record<string, string>> = {
  _vspace: '_space',
  _vindex: '_index',
  _vfunc: '_func',
  _vuser: '_user',
  _vpriv: '_priv',
};

function indexDefs(spaceId: number, list: readonly SystemIndex[]): IndexDef[] {
  // The name index of _index has id 2 in Tarantool (id 1 was 'owner' once); keep the gap.
  return list.map((s, i) => {
    const parts: KeyPart[] = s.parts.map(([fieldNo, type]) => ({ fieldNo, type, isNullable: false }));
    const id = spaceId === SystemSpaceId._index && s.name === 'name' ? 2 : i;
    return { spaceId, id, name: s.name, type: 'TREE', unique: s.unique, parts, keyDef: makeKeyDef(parts), opts: {} };
  });
}

export function systemSpaces(): SystemSpace[] {
  const out: SystemSpace[] = [];
  for (const [name, id] of Object.entries(SystemSpaceId) as Array<[keyof typeof SystemSpaceId, number]>) {
    const sourceName = VIEWS[name];
    const formatName = sourceName ?? name;
    const def: SpaceDef = {
      id,
      owner: ADMIN_USER_ID,
      name,
      engine: 'memtx',
      fieldCount: 0,
      flags: {},
      format: fields(FORMATS[formatName]!),
    };
    const viewOf = sourceName === undefined ? null : SystemSpaceId[sourceName as keyof typeof SystemSpaceId];
    out.push({ def, indexes: indexDefs(id, INDEXES[formatName]!), viewOf });
  }
  return out;
}

/** Rows of a new instance besides `_space`/`_index` rows of the system spaces. */
export function bootstrapRows(adminAuth: MpObject, instanceUuid: string | null): Array<[number, MpValue[]]> {
  const rows: Array<[number, MpValue[]]> = [
    [SystemSpaceId._schema, ['max_id', 511]],
    [SystemSpaceId._schema, ['version', 1, 10, 2]],
    [SystemSpaceId._user, [GUEST_USER_ID, ADMIN_USER_ID, 'guest', 'user', {}]],
    [SystemSpaceId._user, [ADMIN_USER_ID, ADMIN_USER_ID, 'admin', 'user', adminAuth]],
    [SystemSpaceId._user, [PUBLIC_ROLE_ID, ADMIN_USER_ID, 'public', 'role', {}]],
    [SystemSpaceId._user, [REPLICATION_ROLE_ID, ADMIN_USER_ID, 'replication', 'role', {}]],
    [SystemSpaceId._user, [SUPER_ROLE_ID, ADMIN_USER_ID, 'super', 'role', {}]],
    // Privilege bits: read 1, write 2, execute 4, session 8, usage 16, create 32, drop 64, alter 128.
    [SystemSpaceId._priv, [ADMIN_USER_ID, GUEST_USER_ID, 'role', PUBLIC_ROLE_ID, 4]],
    [SystemSpaceId._priv, [ADMIN_USER_ID, GUEST_USER_ID, 'universe', 0, 24]],
    [SystemSpaceId._priv, [ADMIN_USER_ID, ADMIN_USER_ID, 'universe', 0, 0xffffffff]],
    [SystemSpaceId._priv, [ADMIN_USER_ID, REPLICATION_ROLE_ID, 'universe', 0, 1]],
    [SystemSpaceId._priv, [ADMIN_USER_ID, SUPER_ROLE_ID, 'universe', 0, 0xffffffff]],
  ];
  if (instanceUuid !== null) rows.push([SystemSpaceId._cluster, [1, instanceUuid]]);
  return rows;
}
