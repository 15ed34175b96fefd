/**
 * The `pico.*` API: what operators call in the console and over iproto CALL (`pico.whoami`...).
 * Functions return Lua-style value lists: a result, or `nil, "error text"` for expected failures
 * (`uninitialized yet`, `instance with id "i2" not found`). Unexpected failures throw.
 */

import { mpNumber, type MpValue } from '../codec/msgpack.ts';
import { formatOp, decodeOp, type Dml } from '../cluster/ops.ts';
import type { Instance } from '../cluster/records.ts';
import { decodeConfChange } from '../raft/confchange.ts';
import type { Node } from '../node/node.ts';
import { cas, dmlFromValue, PROC_CAS, predicateFromValue } from '../rpc/cas.ts';
import { expelRedirect } from '../rpc/expel.ts';
import { opFromValue, PROC_PROPOSE } from '../rpc/propose.ts';
import { describeClientError } from '../rpc/pool.ts';
import { field, ProcError, str, uint } from '../rpc/proc-error.ts';

export const VERSION = '22.11.0-ts';
export const UNINITIALIZED = 'uninitialized yet';

export type PicoFunction = (node: Node, args: readonly MpValue[]) => MpValue[] | Promise<MpValue[]>;

const uninitialized = (): MpValue[] => [null, UNINITIALIZED];

function secondsToMs(value: MpValue, fallbackMs: number): number {
  if (value === null || value === undefined) return fallbackMs;
  const seconds = mpNumber(value);
  if (seconds === undefined || !(seconds >= 0)) throw new ProcError('timeout must be a non-negative number of seconds');
  return seconds * 1000;
}

export function instanceInfo(node: Node, instance: Instance): MpValue {
  return {
    raft_id: instance.raftId,
    advertise_address: node.peerAddress(instance.raftId) ?? null,
    instance_id: instance.instanceId,
    instance_uuid: instance.instanceUuid,
    replicaset_id: instance.replicasetId,
    replicaset_uuid: instance.replicasetUuid,
    current_grade: { variant: instance.currentGrade.variant, incarnation: instance.currentGrade.incarnation },
    target_grade: { variant: instance.targetGrade.variant, incarnation: instance.targetGrade.incarnation },
    failure_domain: { ...instance.failureDomain },
  };
}

function raftStatus(node: Node): MpValue[] {
  if (node.raft === null) return uninitialized();
  const s = node.raft.status();
  return [
    {
      id: s.id,
      term: s.term,
      leader_id: s.leaderId === 0 ? null : s.leaderId,
      raft_state: s.raftState,
      voters: [...s.voters],
      learners: [...s.learners],
      commit: s.commit,
      applied: s.applied,
      first_index: s.firstIndex,
    },
  ];
}

/** Proposes `op` on the leader (forwarding through `.proc_propose` from a follower) and waits to apply it. */
async function proposeAnywhere(node: Node, opValue: MpValue, timeoutMs: number): Promise<number> {
  const raft = node.requireRaft();
  if (raft.role === 'Leader') {
    const { index } = await raft.proposeAndWait(opFromValue(opValue), timeoutMs);
    return index;
  }
  const leader = node.leaderAddress();
  if (leader === undefined) throw new ProcError('leader is unknown yet');
  const result = await node.pool.call(leader, PROC_PROPOSE, [opValue, timeoutMs], timeoutMs + 1_000);
  if (!result.ok) throw new ProcError(describeClientError(result.error));
  const index = uint(field(result.value[0] ?? null, 'index', 'reply'), 'index');
  await raft.waitApplied(index, timeoutMs);
  return index;
}


function picoCas(node: Node, args: readonly MpValue[]): Promise<MpValue[]> {
  const [opArg, predicateArg] = args;
  const op = opArg ?? null;
  const kind = str(field(op, 'kind', 'op'), 'kind');
  const dmlValue: MpValue = {
    op_kind: kind,
    space: str(field(op, 'space', 'op'), 'space'),
    tuple: field(op, 'tuple', 'op') ?? null,
    key: field(op, 'key', 'op') ?? null,
    ops: field(op, 'ops', 'op') ?? null,
  };
  const raft = node.requireRaft();
  const predicateValue: MpValue = {
    index: field(predicateArg ?? {}, 'index', 'predicate') ?? raft.applied,
    term: field(predicateArg ?? {}, 'term', 'predicate') ?? raft.term,
    ranges: field(predicateArg ?? {}, 'ranges', 'predicate') ?? [],
  };
  return casAnywhere(node, predicateValue, dmlFromValue(dmlValue), dmlValue);
}

async function casAnywhere(node: Node, predicateValue: MpValue, dml: Dml, dmlValue: MpValue): Promise<MpValue[]> {
  const raft = node.requireRaft();
  if (raft.role === 'Leader') {
    const r = await cas(node, node.clusterId(), predicateFromValue(predicateValue), dml);
    return [r.index, r.term];
  }
  const leader = node.leaderAddress();
  if (leader === undefined) throw new ProcError('leader is unknown yet');
  const result = await node.pool.call(leader, PROC_CAS, [node.clusterId(), predicateValue, dmlValue], node.options.tuning.syncRpcTimeoutMs);
  if (!result.ok) throw new ProcError(describeClientError(result.error));
  return [field(result.value[0] ?? null, 'index', 'reply'), field(result.value[0] ?? null, 'term', 'reply')];
}

function raftLog(node: Node, args: readonly MpValue[]): MpValue[] {
  const raft = node.raft;
  if (raft === null) return uninitialized();
  const rows: MpValue[] = [];
  for (const entry of raft.entries(1, raft.status().lastIndex)) {
    let contents: string;
    if (entry.kind === 'confChange') {
      contents = decodeConfChange(entry.data).changes.map((c) => `${c.type === 'addNode' ? 'AddNode' : c.type === 'addLearnerNode' ? 'AddLearnerNode' : 'RemoveNode'}(${c.nodeId})`).join(', ') || 'LeaveJoint';
    } else {
      contents = entry.data.length === 0 ? '-' : formatOp(decodeOp(entry.data));
    }
    rows.push({ index: entry.index, term: entry.term, contents });
  }
  const returnString = field(args[0] ?? {}, 'return_string', 'options') === true;
  if (!returnString) return [rows];
  const lines = rows.map((r) => `|${String((r as Record<string, MpValue>)['index']).padEnd(6)}|${String((r as Record<string, MpValue>)['term']).padEnd(5)}|${String((r as Record<string, MpValue>)['contents'])}|`);
  return [['|index |term |contents|', ...lines].join('\n')];
}

export const PICO: ReadonlyMap<string, PicoFunction> = new Map<string, PicoFunction>([
  ['pico.VERSION', () => [VERSION]],
  ['pico.args', (node) => [node.args()]],
  [
    'pico.whoami',
    (node) => {
      const id = node.identity;
      if (id === null || node.raft === null) return uninitialized();
      return [{ raft_id: id.raftId, cluster_id: id.clusterId, instance_id: id.instanceId }];
    },
  ],
  [
    'pico.instance_info',
    (node, args) => {
      if (node.raft === null || node.identity === null) return uninitialized();
      const id = args[0] === undefined || args[0] === null ? node.identity.instanceId : str(args[0], 'instance_id');
      const instance = node.tables.instance(id);
      if (instance === undefined) return [null, `instance with id "${id}" not found`];
      return [instanceInfo(node, instance)];
    },
  ],
  ['pico.raft_status', (node) => raftStatus(node)],
  ['pico.raft_get_index', (node) => (node.raft === null ? uninitialized() : [node.raft.applied])],
  [
    'pico.raft_read_index',
    async (node, args) => {
      if (node.raft === null) return uninitialized();
      return [await node.raft.readIndex(secondsToMs(args[0], 10_000))];
    },
  ],
  [
    'pico.raft_wait_index',
    async (node, args) => {
      if (node.raft === null) return uninitialized();
      await node.raft.waitApplied(uint(args[0] ?? null, 'index'), secondsToMs(args[1], 10_000));
      return [node.raft.applied];
    },
  ],
  [
    'pico.raft_propose_nop',
    async (node) => {
      if (node.raft === null) return uninitialized();
      return [await proposeAnywhere(node, { kind: 'nop' }, node.options.tuning.syncRpcTimeoutMs)];
    },
  ],
  [
    'pico.raft_propose_info',
    async (node, args) => {
      if (node.raft === null) return uninitialized();
      return [await proposeAnywhere(node, { kind: 'info', message: str(args[0] ?? null, 'text') }, node.options.tuning.syncRpcTimeoutMs)];
    },
  ],
  [
    'pico.raft_timeout_now',
    (node) => {
      if (node.raft === null) return uninitialized();
      node.raft.campaign();
      return [];
    },
  ],
  [
    'pico.raft_tick',
    (node, args) => {
      if (node.raft === null) return uninitialized();
      node.raft.tick(uint(args[0] ?? 1, 'ticks'));
      return [];
    },
  ],
  [
    'pico.raft_compact_log',
    async (node, args) => {
      if (node.raft === null) return uninitialized();
      const upTo = args[0] === undefined || args[0] === null ? Number.MAX_SAFE_INTEGER : mpNumber(args[0]);
      if (upTo === undefined || Number.isNaN(upTo)) throw new ProcError('up_to must be a number');
      return [await node.raft.compactLog(upTo)];
    },
  ],
  ['pico.raft_log', (node, args) => raftLog(node, args)],
  ['pico.cas', (node, args) => picoCas(node, args)],
  [
    'pico.expel',
    async (node, args) => {
      await expelRedirect(node, node.clusterId(), str(args[0] ?? null, 'instance_id'));
      return [true];
    },
  ],
  [
    'pico.exit',
    (node, args) => {
      node.exit(mpNumber(args[0]) ?? 0, 'pico.exit()');
      return [];
    },
  ],
]);
