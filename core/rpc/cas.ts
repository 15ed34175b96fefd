/**
 * `.proc_cas(cluster_id, predicate, dml)` on the leader: compare-and-swap on a clusterwide table.
 * `predicate` = `{index, term, ranges: [{space, key_min: {kind, key}, key_max: {kind, key}}]}`,
 * `dml` = `{op_kind: insert|replace|update|delete, space, tuple | key [, ops]}`. The operation is
 * proposed and NOT waited for: the reply `{index, term}` says where it went.
 * Errors (REFERENCE 1.10): `cluster_id mismatch: ...`, `operation request from different term R,
 * current term is C`, `not a leader`, and with the prefix `compare-and-swap request failed: `:
 * `raft entry at index N does not exist yet, the last is L`, `raft index N is compacted at M`,
 * `entry at index I has term A, request implies term E`, `space X is prohibited for use in a
 * predicate`, `comparison failed for index I as it conflicts with J`.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { checkCas, type Bound, type CasLogView, type CasPredicate, type CasRange } from '../cluster/cas.ts';
import { decodeOp, type Dml, type Op } from '../cluster/ops.ts';
import type { Key, UpdateOp } from '../cluster/table.ts';
import type { Node } from '../node/node.ts';
import { field, ProcError, str, uint } from './proc-error.ts';
import { checkClusterId, type Proc } from './proc.ts';

export const PROC_CAS = '.proc_cas';

function list(value: MpValue, what: string): MpValue[] {
  if (!Array.isArray(value)) throw new ProcError(`${what} must be an array`);
  return value as MpValue[];
}

function bound(value: MpValue): Bound {
  if (value === null || value === undefined) return { kind: 'unbounded' };
  const kind = str(field(value, 'kind', 'bound'), 'bound kind');
  if (kind === 'unbounded') return { kind };
  if (kind !== 'included' && kind !== 'excluded') throw new ProcError(`bad bound kind ${kind}`);
  return { kind, key: list(field(value, 'key', 'bound'), 'bound key') };
}

export function predicateFromValue(value: MpValue): CasPredicate {
  const ranges: CasRange[] = list(field(value, 'ranges', 'predicate') ?? [], 'ranges').map((r) => ({
    space: str(field(r, 'space', 'range'), 'range space'),
    keyMin: bound(field(r, 'key_min', 'range')),
    keyMax: bound(field(r, 'key_max', 'range')),
  }));
  return { index: uint(field(value, 'index', 'predicate'), 'index'), term: uint(field(value, 'term', 'predicate'), 'term'), ranges };
}

export function dmlFromValue(value: MpValue): Dml {
  const kind = str(field(value, 'op_kind', 'dml'), 'op_kind');
  const space = str(field(value, 'space', 'dml'), 'space');
  switch (kind) {
    case 'insert':
    case 'replace':
      return { op: kind, space, tuple: list(field(value, 'tuple', 'dml'), 'tuple') };
    case 'delete':
      return { op: kind, space, key: list(field(value, 'key', 'dml'), 'key') as Key };
    case 'update':
      return { op: kind, space, key: list(field(value, 'key', 'dml'), 'key') as Key, ops: list(field(value, 'ops', 'dml'), 'ops') as unknown as UpdateOp[] };
    default:
      throw new ProcError(`unknown dml kind ${kind}`);
  }
}

function logView(node: Node): CasLogView {
  const raft = node.requireRaft();
  const status = raft.status();
  return {
    currentTerm: status.term,
    firstIndex: status.firstIndex,
    lastIndex: status.lastIndex,
    termAt: (index) => raft.termAt(index),
    *opsAfter(from) {
      for (const entry of raft.entries(from + 1, status.lastIndex)) {
        let op: Op | null = null;
        if (entry.kind === 'normal' && entry.data.length > 0) op = decodeOp(entry.data);
        yield { index: entry.index, op };
      }
    },
    keyOf: (space, tuple) => node.tables.table(space)?.keyOf(tuple) ?? [tuple[0]],
  };
}

export async function cas(node: Node, clusterId: string, predicate: CasPredicate, dml: Dml): Promise<{ index: number; term: number }> {
  checkClusterId(node, clusterId);
  const raft = node.requireRaft();
  if (predicate.term !== raft.term) throw new ProcError(`operation request from different term ${predicate.term}, current term is ${raft.term}`);
  node.requireLeader();
  if (node.tables.table(dml.space) === undefined) throw new ProcError(`space ${dml.space} not found`, 36);
  const error = checkCas(logView(node), predicate);
  if (error !== null) throw new ProcError(error.message);
  const proposal = raft.propose({ kind: 'dml', dml }, node.options.tuning.syncRpcTimeoutMs);
  proposal.applied.catch(() => undefined); // nobody waits; failures show in the tables
  return { index: proposal.index, term: proposal.term };
}

export const casProc: Proc = {
  name: PROC_CAS,
  async handle(node, args) {
    const result = await cas(node, str(args[0] ?? null, 'cluster_id'), predicateFromValue(args[1] ?? null), dmlFromValue(args[2] ?? null));
    return [{ index: result.index, term: result.term }];
  },
};
