/**
 * Which spaces replicate, and how a replica gets the ones it lacks.
 *
 * User spaces (ids from 512) replicate, `_bucket` among them; system spaces and the replication
 * state spaces do not. Schema is per instance here (a clusterwide schema is later road work): a
 * space travels by name, with its definition, and a replica that lacks it creates it from that
 * definition before applying rows to it (a read-only replica cannot run the `--script` DDL its
 * master ran). A space that exists on both under the same name is taken as the same space; its
 * definitions are not compared.
 */

import { IS_SYNC_FLAG, type Box } from '../box/box.ts';
import type { MpObject, MpValue } from '../codec/msgpack.ts';
import { formatToValue, partsToValue, USER_SPACE_ID_MIN, type SpaceDef } from '../box/space-def.ts';
import { isReplicationStateSpace } from './state-spaces.ts';

export function isReplicatedSpace(def: SpaceDef): boolean {
  return def.id >= USER_SPACE_ID_MIN && !isReplicationStateSpace(def.name) && def.flags['is_local'] !== true;
}

/** Names of the spaces this box replicates, in id order. */
export function replicatedSpaceNames(box: Box): string[] {
  return [...box.schema.spaces.values()]
    .filter((s) => isReplicatedSpace(s.def) && s.indexes.length > 0)
    .sort((a, b) => a.id - b.id)
    .map((s) => s.def.name);
}

/** `{engine, format, indexes: [[name, type, unique, parts]...]}` of a space, for a replica. */
export function spaceDefValue(box: Box, name: string): MpObject {
  const space = box.space(name);
  return {
    engine: space.engine,
    is_sync: box.schema.space(name).def.flags[IS_SYNC_FLAG] === true,
    format: formatToValue(box.schema.space(name).def.format),
    indexes: space.indexes().map((i) => [i.name, i.type, i.unique, partsToValue(i.parts)]),
  };
}

/** Creates the space (and any index of it) that `value` describes and this box lacks; returns its local id. */
export async function ensureSpaceFromDef(box: Box, name: string, value: MpValue): Promise<number> {
  const def = value as MpObject;
  const indexes = (def['indexes'] ?? []) as MpValue[][];
  if (!box.hasSpace(name)) {
    const engine = def['engine'] === 'vinyl' ? 'vinyl' : 'memtx';
    await box.createSpaceAsReplica(name, { engine, isSync: def['is_sync'] === true, format: (def['format'] ?? []) as Array<{ name: string; type?: string; is_nullable?: boolean }> });
  }
  for (const [indexName, type, unique, parts] of indexes) {
    if (box.space(name).indexes().some((i) => i.name === indexName)) continue;
    await box.createIndex(name, String(indexName), { type: type === 'HASH' ? 'HASH' : 'TREE', unique: unique === true, parts: parts as never });
  }
  return box.space(name).id;
}
