/**
 * Joining a cluster: `.proc_raft_join` on the leader discovery named, following ErrNotALeader
 * redirects, retrying I/O failures after 1 s; a definitive refusal (cluster id mismatch, a
 * duplicate instance id, missing failure-domain names) ends the process with a non-zero code.
 *
 * The leader named may be stale: peers that have not yet noticed the leader died still name its
 * address, which is this instance's own when it is the old leader restarted with a wiped data
 * directory. A target that is this instance's own address, that does not know the leader, or
 * that cannot be reached passes the turn to the next candidate (the leader discovery named, then
 * every `--peer`, never this instance), whose answer names the leader once one is elected.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { instanceFromTuple } from '../cluster/records.ts';
import type { Identity } from '../cluster/raft-store.ts';
import { describeClientError } from '../rpc/pool.ts';
import { field } from '../rpc/proc-error.ts';
import { PROC_RAFT_JOIN } from '../rpc/raft-join.ts';
import type { Node } from './node.ts';
import { EXIT_FAILURE } from './options.ts';
import { ownAddresses } from './target-grade.ts';
import { probe } from '../lib/probe.ts';

const DEFINITIVE = [/^cannot join the instance to the cluster/, / is already joined$/, /^missing failure domain names/];

export function isDefinitiveRefusal(message: string): boolean {
  return DEFINITIVE.some((re) => re.test(message));
}

export async function join(node: Node, leaderAddress: string): Promise<Identity | null> {
  node.state = 'joining';
  const o = node.options;
  const own = ownAddresses(node);
  // Who may lead us to the leader: the one discovery named, then every --peer; never ourselves.
  const candidates = [...new Set([leaderAddress, ...o.peers])].filter((a) => !own.has(a));
  let nextCandidate = 0;
  /** After a pause, the next candidate other than `current`: `current` cannot name the leader now. */
  const askAnother = async (current: string): Promise<string> => {
    await node.env.clock.sleep(o.tuning.joinRetryMs);
    for (let tried = 0; tried < candidates.length; tried++) {
      const candidate = candidates[nextCandidate++ % candidates.length]!;
      if (candidate !== current) return candidate;
    }
    return candidates[0] ?? current;
  };
  let target = leaderAddress;
  const args: MpValue[] = [o.clusterId, o.instanceId ?? null, o.replicasetId ?? null, o.advertise, { ...o.failureDomain }];
  for (;;) {
    if (own.has(target) && candidates.length > 0) {
      probe('join.own_address_skipped');
      node.log.warn('the leader named is this instance\'s own address (a stale answer), asking another peer', { leader: target });
      target = await askAnother(target);
      continue;
    }
    node.log.info('joining', { leader: target });
    const result = await node.pool.call(target, PROC_RAFT_JOIN, args, o.tuning.syncRpcTimeoutMs);
    // BUGGIFY: the reply is lost after the leader admitted us; joining again must still work.
    if (result.ok && node.env.buggify('join.reply.lost')) {
      await node.env.clock.sleep(o.tuning.joinRetryMs);
      continue;
    }
    if (!result.ok) {
      const message = describeClientError(result.error);
      if (result.error.kind === 'server' && isDefinitiveRefusal(message)) {
        node.fatal(`join refused: ${message}`, EXIT_FAILURE);
        return null;
      }
      // A peer that is down (or not ready) cannot name the leader; the next one may.
      node.log.warn('join failed, retrying', { reason: message, target });
      target = await askAnother(target);
      continue;
    }
    const reply = result.value[0] ?? null;
    const notALeader = field(reply, 'ErrNotALeader', 'join reply');
    if (notALeader !== undefined) {
      const address = notALeader === null ? undefined : field(notALeader, 'address', 'leader');
      probe('join.redirected');
      if (typeof address === 'string') target = address;
      else target = await askAnother(target); // it knows no leader either
      continue;
    }
    return accept(node, field(reply, 'Ok', 'join reply'));
  }
}

async function accept(node: Node, ok: MpValue): Promise<Identity> {
  const instance = instanceFromTuple(field(ok, 'instance', 'join reply') as MpValue[]);
  const peers = field(ok, 'peer_addresses', 'join reply');
  for (const p of Array.isArray(peers) ? peers : []) {
    const raftId = field(p as MpValue, 'raft_id', 'peer');
    const address = field(p as MpValue, 'address', 'peer');
    if (typeof raftId === 'number' && typeof address === 'string') node.addresses.set(raftId, address);
  }
  const replication = field(ok, 'box_replication', 'join reply');
  node.box.readOnly = !Array.isArray(replication) || replication.length > 1;
  const identity: Identity = { raftId: instance.raftId, instanceId: instance.instanceId, clusterId: node.options.clusterId, replicasetId: instance.replicasetId };
  await node.raftStore.saveIdentity(identity);
  node.log.info('joined the cluster', { instance_id: instance.instanceId, raft_id: instance.raftId, replicaset_id: instance.replicasetId });
  return identity;
}
