/**
 * The clusterwide tables every instance maintains by applying the Raft log: instances, peer
 * addresses, replicasets and properties (plus the DDL tables, empty until clusterwide schema
 * exists). Applying is deterministic: the same log gives the same tables everywhere.
 */

import { decode, encode, type MpValue } from '../codec/msgpack.ts';
import { assert } from '../lib/assert.ts';
import { applyInstanceUpdate, type Op } from './ops.ts';
import { instanceFromTuple, instanceToTuple, replicasetFromTuple, type Instance, type Replicaset } from './records.ts';
import { Table, TableError, type TableDef, type Tuple } from './table.ts';

export const TABLE_DEFS = {
  space: { id: 512, name: '_picodata_space', fields: ['id', 'name', 'distribution', 'format', 'schema_version', 'operable'], primaryKey: [0] },
  index: { id: 513, name: '_picodata_index', fields: ['space_id', 'id', 'name', 'local', 'parts', 'schema_version', 'operable'], primaryKey: [0, 1] },
  peerAddress: { id: 514, name: '_picodata_peer_address', fields: ['raft_id', 'address'], primaryKey: [0] },
  instance: {
    id: 515,
    name: '_picodata_instance',
    fields: ['instance_id', 'instance_uuid', 'raft_id', 'replicaset_id', 'replicaset_uuid', 'current_grade', 'target_grade', 'failure_domain'],
    primaryKey: [0],
  },
  property: { id: 516, name: '_picodata_property', fields: ['key', 'value'], primaryKey: [0] },
  replicaset: {
    id: 517,
    name: '_picodata_replicaset',
    fields: ['replicaset_id', 'replicaset_uuid', 'master_id', 'weight', 'current_schema_version'],
    primaryKey: [0],
  },
} as const satisfies Record<string, TableDef>;

/** Tables a CaS predicate may not range over (their changes are DDL, ordered by other means). */
export const PREDICATE_PROHIBITED_TABLES: ReadonlySet<string> = new Set([TABLE_DEFS.space.name, TABLE_DEFS.index.name]);

export const PROPERTY = {
  replicationFactor: 'replication_factor',
  vshardBootstrapped: 'vshard_bootstrapped',
  desiredSchemaVersion: 'desired_schema_version',
} as const;

export class ClusterTables {
  private readonly tables = new Map<string, Table>();
  /** raft_id -> instance_id, kept in step with the instance table. */
  private readonly instanceIdByRaftId = new Map<number, string>();

  constructor() {
    for (const def of Object.values(TABLE_DEFS)) {
      // A malformed instance or replicaset row would break every later governor step: refuse it.
      const validate =
        def === TABLE_DEFS.instance ? (t: Tuple) => void instanceFromTuple(t) : def === TABLE_DEFS.replicaset ? (t: Tuple) => void replicasetFromTuple(t) : undefined;
      this.tables.set(def.name, new Table(def, validate));
    }
  }

  table(name: string): Table | undefined {
    return this.tables.get(name);
  }

  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** Applies one committed operation. Throws TableError when the DML itself fails (e.g. duplicate). */
  apply(op: Op): Tuple | undefined {
    switch (op.kind) {
      case 'nop':
      case 'info':
        return undefined;
      case 'persist_instance':
        return this.replace(TABLE_DEFS.instance.name, instanceToTuple(op.instance));
      case 'update_instance': {
        const existing = this.instance(op.instanceId);
        return existing === undefined ? undefined : this.replace(TABLE_DEFS.instance.name, instanceToTuple(applyInstanceUpdate(existing, op)));
      }
      case 'dml': {
        const d = op.dml;
        const table = this.mustTable(d.space);
        if (d.op === 'insert') return this.afterWrite(table, table.insert(d.tuple));
        if (d.op === 'replace') return this.replace(d.space, d.tuple);
        if (d.op === 'update') return this.afterWrite(table, table.update(d.key, d.ops));
        const removed = table.delete(d.key);
        if (removed !== undefined && table.def.name === TABLE_DEFS.instance.name) this.indexInstance(removed, false);
        return removed;
      }
    }
  }

  private replace(space: string, tuple: Tuple): Tuple {
    const table = this.mustTable(space);
    const previous = table.get(table.keyOf(tuple));
    if (previous !== undefined && table.def.name === TABLE_DEFS.instance.name) this.indexInstance(previous, false);
    table.replace(tuple);
    this.afterWrite(table, tuple);
    return tuple;
  }

  private afterWrite(table: Table, tuple: Tuple | undefined): Tuple | undefined {
    if (tuple !== undefined && table.def.name === TABLE_DEFS.instance.name) this.indexInstance(tuple, true);
    return tuple;
  }

  private indexInstance(tuple: Tuple, present: boolean): void {
    const raftId = tuple[2] as number;
    if (present) this.instanceIdByRaftId.set(raftId, tuple[0] as string);
    else this.instanceIdByRaftId.delete(raftId);
  }

  private mustTable(name: string): Table {
    const table = this.tables.get(name);
    if (table === undefined) throw new TableError(36, `Space '${name}' does not exist`);
    return table;
  }

  // --- typed reads --------------------------------------------------------------------------

  instance(instanceId: string): Instance | undefined {
    const t = this.mustTable(TABLE_DEFS.instance.name).get([instanceId]);
    return t === undefined ? undefined : instanceFromTuple(t);
  }

  instanceByRaftId(raftId: number): Instance | undefined {
    const id = this.instanceIdByRaftId.get(raftId);
    return id === undefined ? undefined : this.instance(id);
  }

  /** All instances in instance_id order. */
  instances(): Instance[] {
    return [...this.mustTable(TABLE_DEFS.instance.name).all()].map(instanceFromTuple);
  }

  replicaset(replicasetId: string): Replicaset | undefined {
    const t = this.mustTable(TABLE_DEFS.replicaset.name).get([replicasetId]);
    return t === undefined ? undefined : replicasetFromTuple(t);
  }

  replicasets(): Replicaset[] {
    return [...this.mustTable(TABLE_DEFS.replicaset.name).all()].map(replicasetFromTuple);
  }

  peerAddress(raftId: number): string | undefined {
    const t = this.mustTable(TABLE_DEFS.peerAddress.name).get([raftId]);
    return t === undefined ? undefined : (t[1] as string);
  }

  peerAddresses(): Array<{ raftId: number; address: string }> {
    return [...this.mustTable(TABLE_DEFS.peerAddress.name).all()].map((t) => ({ raftId: t[0] as number, address: t[1] as string }));
  }

  property(key: string): MpValue {
    return this.mustTable(TABLE_DEFS.property.name).get([key])?.[1];
  }

  replicationFactor(): number {
    const rf = this.property(PROPERTY.replicationFactor);
    return typeof rf === 'number' && rf >= 1 ? rf : 1;
  }

  vshardBootstrapped(): boolean {
    return this.property(PROPERTY.vshardBootstrapped) === true;
  }

  // --- snapshots ----------------------------------------------------------------------------

  /** Every table's rows, for a Raft snapshot. */
  snapshot(): Uint8Array {
    const data: MpValue[] = [];
    for (const table of this.tables.values()) data.push([table.def.name, [...table.all()].map((t) => [...t])]);
    return encode(data);
  }

  restore(bytes: Uint8Array): void {
    const data = decode(bytes);
    assert(Array.isArray(data), 'cluster snapshot must be an array of tables');
    for (const table of this.tables.values()) table.clear();
    this.instanceIdByRaftId.clear();
    for (const entry of data as MpValue[]) {
      const [name, rows] = entry as [string, MpValue[][]];
      const table = this.mustTable(name);
      for (const row of rows) this.afterWrite(table, table.replace(row));
    }
  }
}
