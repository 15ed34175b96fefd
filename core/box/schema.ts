/**
 * The schema lives in system spaces, as in Tarantool: a DDL operation is a statement on `_space`,
 * `_index` or `_space_sequence`, and the triggers here turn each such change into the in-memory
 * schema change (create/alter/drop a space or index), returning how to undo it. DDL therefore
 * goes through the WAL, recovery and replication like any data, and rolls back like any
 * statement. Built-in system spaces (ids below 512) are fixed; their rows are informational.
 */

import { assert } from '../lib/assert.ts';
import type { Log } from '../env/log.ts';
import { boxErrors } from './errors.ts';
import type { EngineIndex } from './engine-index.ts';
import { HashIndex } from './index-hash.ts';
import { TreeIndex } from './index-tree.ts';
import { extendKeyDef, keyHasNull, type KeyDef } from './key-def.ts';
import { Space, type SpaceHost } from './space.ts';
import {
  indexDefFromTuple,
  INDEXES_PER_SPACE_MAX,
  spaceDefFromTuple,
  USER_SPACE_ID_MIN,
  type IndexDef,
  type SpaceDef,
} from './space-def.ts';
import { SystemSpaceId, systemSpaces } from './system-spaces.ts';
import type { Tuple } from './tuple.ts';
import { VinylIndex, type VinylSpaceStore } from './vinyl.ts';

/** Vinyl stores by name, opened before the statements that need them. */
export interface VinylStores {
  spaceStore(def: SpaceDef): VinylSpaceStore;
  /** The space was dropped (committed): its store can go. */
  released(def: SpaceDef): void;
}

export const VINYL_STORE_FLAG = 'vinyl_store';

export class Schema {
  readonly spaces = new Map<number, Space>();
  private readonly byName = new Map<string, Space>();
  /** Bumped by every schema change and its undo; iproto puts it in every reply. */
  version = 1;
  private readonly host: SpaceHost;
  private readonly vinyl: VinylStores;
  private readonly log: Log;

  constructor(host: SpaceHost, vinyl: VinylStores, log: Log) {
    this.host = host;
    this.vinyl = vinyl;
    this.log = log;
    this.createSystemSpaces();
  }

  find(ref: number | string): Space | undefined {
    return typeof ref === 'number' ? this.spaces.get(ref) : this.byName.get(ref);
  }

  space(ref: number | string): Space {
    const space = this.find(ref);
    if (space === undefined) throw boxErrors.noSuchSpace(String(ref));
    return space;
  }

  // Every change of the space map after construction must bump the version: BoxSpace handles
  // cache the Space object per version.
  private register(space: Space): void {
    this.spaces.set(space.id, space);
    this.byName.set(space.name, space);
  }

  private unregister(space: Space): void {
    this.spaces.delete(space.id);
    if (this.byName.get(space.name) === space) this.byName.delete(space.name);
  }

  private createSystemSpaces(): void {
    const all = systemSpaces();
    for (const s of all) {
      const space = new Space(s.def, this.host, s.viewOf !== null);
      if (s.viewOf === null) for (const d of s.indexes) space.addIndex(this.memtxIndex(space, d));
      this.register(space);
    }
    for (const s of all) {
      if (s.viewOf !== null) this.spaces.get(s.def.id)!.shareIndexesOf(this.spaces.get(s.viewOf)!);
    }
    this.space(SystemSpaceId._space).trigger = (o, n) => this.onSpace(o, n);
    this.space(SystemSpaceId._index).trigger = (o, n) => this.onIndex(o, n);
    this.space(SystemSpaceId._space_sequence).trigger = (o, n) => this.onSpaceSequence(o, n);
  }

  /** The order a tree keeps: secondaries that may repeat a key get the primary key appended. */
  private orderDef(space: Space, def: IndexDef): KeyDef {
    if (def.id === 0) return def.keyDef;
    const mayRepeat = !def.unique || def.parts.some((p) => p.isNullable);
    return mayRepeat ? extendKeyDef(def.keyDef, space.primary().def.keyDef) : def.keyDef;
  }

  private memtxIndex(space: Space, def: IndexDef): EngineIndex {
    if (def.type === 'HASH') return new HashIndex(def);
    return new TreeIndex(def, this.orderDef(space, def));
  }

  private bump(): void {
    this.version++;
  }

  // --- _space --------------------------------------------------------------------------------

  private onSpace(old: Tuple | null, next: Tuple | null): () => void {
    const id = (next ?? old)![0] as number;
    if (id in SYSTEM_IDS) {
      if (next === null) throw boxErrors.dropSpace(String(id), 'the space is a system space');
      return () => undefined;
    }
    if (old === null && id < USER_SPACE_ID_MIN) throw boxErrors.createSpace(String(next![2]), 'space id is reserved for system spaces');
    if (old === null) return this.createSpace(spaceDefFromTuple(next!));
    if (next === null) return this.dropSpace(this.space(id));
    return this.alterSpace(this.space(id), spaceDefFromTuple(next));
  }

  private createSpace(def: SpaceDef): () => void {
    if (this.spaces.has(def.id) || this.byName.has(def.name)) throw boxErrors.spaceExists(def.name);
    if (def.engine === 'vinyl') this.vinyl.spaceStore(def);
    const space = new Space(def, this.host);
    this.register(space);
    this.bump();
    return () => {
      this.unregister(space);
      this.bump();
    };
  }

  private dropSpace(space: Space): () => void {
    if (space.indexes.length > 0) throw boxErrors.dropSpace(space.name, 'the space has indexes');
    this.unregister(space);
    this.bump();
    if (space.def.engine === 'vinyl') this.vinyl.released(space.def);
    return () => {
      this.register(space);
      this.bump();
    };
  }

  private alterSpace(space: Space, def: SpaceDef): () => void {
    const previous = space.def;
    if (def.engine !== previous.engine) throw boxErrors.alterSpace(space.name, 'can not change space engine');
    const clash = this.byName.get(def.name);
    if (clash !== undefined && clash !== space) throw boxErrors.spaceExists(def.name);
    space.setDef(def);
    try {
      this.checkExistingTuples(space);
    } catch (error) {
      space.setDef(previous);
      throw error;
    }
    this.byName.delete(previous.name);
    this.byName.set(def.name, space);
    this.bump();
    return () => {
      space.setDef(previous);
      this.byName.delete(def.name);
      this.byName.set(previous.name, space);
      this.bump();
    };
  }

  private checkExistingTuples(space: Space): void {
    const primary = space.indexes[0];
    if (primary === undefined || space.engine !== 'memtx') return;
    primary.iterate('ALL', [], (t) => {
      space.format.validate(t);
      return true;
    });
  }

  // --- _index --------------------------------------------------------------------------------

  private onIndex(old: Tuple | null, next: Tuple | null): () => void {
    const spaceId = (next ?? old)![0] as number;
    if (spaceId in SYSTEM_IDS) {
      if (next === null) throw boxErrors.lastDrop(String(spaceId));
      return () => undefined;
    }
    const space = this.space(spaceId);
    if (old === null) return this.createIndex(space, indexDefFromTuple(next!, space.def.format));
    if (next === null) return this.dropIndex(space, old[1] as number);
    return this.alterIndex(space, indexDefFromTuple(next, space.def.format));
  }

  private checkIndexDef(space: Space, def: IndexDef): void {
    if (def.id >= INDEXES_PER_SPACE_MAX) throw boxErrors.modifyIndex(def.name, space.name, 'index id too big');
    if (def.type === 'HASH' && !def.unique) throw boxErrors.modifyIndex(def.name, space.name, 'HASH index must be unique');
    if (def.type === 'HASH' && space.engine === 'vinyl') throw boxErrors.indexType(def.name, space.name);
    if (def.id === 0 && !def.unique) throw boxErrors.modifyIndex(def.name, space.name, 'primary key must be unique');
    if (def.id === 0 && def.parts.some((p) => p.isNullable)) throw boxErrors.nullablePrimary(space.name);
    if (def.id !== 0 && space.findIndex(0) === undefined) {
      throw boxErrors.modifyIndex(def.name, space.name, 'can not add a secondary key before primary');
    }
  }

  private makeIndex(space: Space, def: IndexDef): EngineIndex {
    if (space.engine === 'memtx') return this.memtxIndex(space, def);
    return new VinylIndex(def, this.orderDef(space, def), this.vinyl.spaceStore(space.def));
  }

  /** Fills a new secondary index from the primary, refusing duplicates of a unique key. */
  private build(space: Space, index: EngineIndex): void {
    if (index instanceof VinylIndex && index.isBuilt) return;
    const primary = space.indexes[0];
    if (primary === undefined || primary === index) return;
    const unique = index.def.unique;
    primary.iterate('ALL', [], (t) => {
      if (unique && !keyHasNull(index.def.keyDef, t) && index.findByTuple(t) !== undefined) {
        throw boxErrors.tupleFound(index.def.name, space.name);
      }
      index.insert(t);
      return true;
    });
  }

  private createIndex(space: Space, def: IndexDef): () => void {
    if (space.findIndex(def.id) !== undefined) throw boxErrors.indexExists(def.name);
    if (space.findIndex(def.name) !== undefined) throw boxErrors.indexExists(def.name);
    this.checkIndexDef(space, def);
    const index = this.makeIndex(space, def);
    try {
      this.build(space, index);
    } catch (error) {
      if (index instanceof VinylIndex) this.vinyl.spaceStore(space.def).indexes.delete(def.id);
      throw error;
    }
    space.addIndex(index);
    this.bump();
    return () => {
      space.removeIndex(def.id);
      if (index instanceof VinylIndex) {
        index.clear();
        this.vinyl.spaceStore(space.def).indexes.delete(def.id);
      }
      this.bump();
    };
  }

  private dropIndex(space: Space, indexId: number): () => void {
    if (indexId === 0 && space.indexes.length > 1) throw boxErrors.dropPrimaryKey(space.name);
    const removed = space.removeIndex(indexId);
    if (space.engine === 'vinyl') {
      const store = this.vinyl.spaceStore(space.def);
      store.indexes.delete(indexId);
      store.purgeOnDump.add(indexId);
    }
    this.bump();
    return () => {
      space.addIndex(removed);
      if (removed instanceof VinylIndex) {
        const store = this.vinyl.spaceStore(space.def);
        store.indexes.set(indexId, removed);
        store.purgeOnDump.delete(indexId);
      }
      this.bump();
    };
  }

  private alterIndex(space: Space, def: IndexDef): () => void {
    if (space.engine !== 'memtx') throw boxErrors.unsupported('Vinyl', 'index alter');
    const previous = space.index(def.id);
    this.checkIndexDef(space, def);
    const clash = space.findIndex(def.name);
    if (clash !== undefined && clash !== previous) throw boxErrors.indexExists(def.name);
    const index = this.memtxIndex(space, def);
    const source = previous;
    source.iterate('ALL', [], (t) => {
      if (def.unique && !keyHasNull(def.keyDef, t) && index.findByTuple(t) !== undefined) {
        throw boxErrors.tupleFound(def.name, space.name);
      }
      index.insert(t);
      return true;
    });
    space.replaceIndex(index);
    this.bump();
    return () => {
      space.replaceIndex(previous);
      this.bump();
    };
  }

  // --- _space_sequence -----------------------------------------------------------------------

  private onSpaceSequence(old: Tuple | null, next: Tuple | null): () => void {
    const space = this.space((next ?? old)![0] as number);
    const previous = space.sequenceId;
    space.sequenceId = next === null ? null : (next[1] as number);
    this.bump();
    return () => {
      space.sequenceId = previous;
      this.bump();
    };
  }

  /** Every user space, in id order (snapshots write system spaces first). */
  allSpaces(): Space[] {
    return [...this.spaces.values()].sort((a, b) => a.id - b.id);
  }

  debugCheck(): void {
    for (const space of this.spaces.values()) assert(this.byName.get(space.name) === space, 'name map out of sync');
    this.log.debug('schema checked', { spaces: this.spaces.size });
  }
}

const SYSTEM_IDS: Readonly<Record<number, true>> = Object.fromEntries(
  Object.values(SystemSpaceId).map((id) => [id, true] as const),
);
