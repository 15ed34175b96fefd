/**
 * The rebalancer (REFERENCE 5.4): the master of the first replicaset (by replicaset id) asks every
 * master for its bucket counts, plans with core/vshard/rebalancer-plan.ts, and tells each donor
 * how many buckets to send where. A donor sends them one at a time, in bucket id order
 * (`vshard.storage.rebalancer_apply_routes`). A master with a transfer in flight, or buckets not
 * yet settled by recovery, refuses to report, and the round waits for the next interval.
 */

import { isMpMap, mapGet, type MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { ProcError } from '../rpc/proc-error.ts';
import { BUCKET_SPACE } from '../rpc/sharding.ts';
import { probe } from '../lib/probe.ts';
import { bucketGuard } from './bucket-guard.ts';
import { sendBucket } from './bucket-transfer.ts';
import { callInstance } from './peer-call.ts';
import { compareIds, planRebalance, type ReplicasetBuckets } from './rebalancer-plan.ts';
import { bucketCounts } from './storage.ts';

export const REBALANCER_REQUEST_STATE = 'vshard.storage.rebalancer_request_state';
export const REBALANCER_APPLY_ROUTES = 'vshard.storage.rebalancer_apply_routes';
const STATE_CALL_TIMEOUT_MS = 5_000;

/** The last reason the rebalancer could not plan, per instance: logged when it changes. */
const lastImpossible = new WeakMap<Node, { readonly reason: string; readonly rounds: number }>();

/** Donors working through routes, so that one route set at a time runs per instance. */
const applying = new WeakSet<Node>();

/** `{active, pinned}` here, or `nil, reason` while buckets are in transit or routes are applied. */
export function rebalancerRequestState(node: Node): MpValue[] {
  if (node.replication?.isMaster !== true) return [null, 'not a master'];
  const counts = bucketCounts(node);
  const inTransit = counts.sending + counts.receiving + counts.sent + counts.garbage;
  if (inTransit > 0 || bucketGuard(node).sendsUnderWay > 0 || applying.has(node)) return [null, 'buckets are in transit'];
  return [{ active: counts.active, pinned: counts.pinned }];
}

/** `rebalancer_apply_routes({[dest_uuid] = count})`: starts sending, answers at once. */
export function rebalancerApplyRoutes(node: Node, args: readonly MpValue[]): MpValue[] {
  const routes = args[0] ?? null;
  if (!isMpMap(routes)) throw new ProcError('routes must be a map');
  if (node.replication?.isMaster !== true) throw new ProcError('not a master');
  if (applying.has(node)) return [null, 'routes are being applied already'];
  const list: Array<[string, number]> = [];
  for (const [dest, count] of routes instanceof Map ? routes.entries() : Object.entries(routes)) {
    if (typeof dest !== 'string' || typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new ProcError('routes must map replicaset uuids to bucket counts');
    list.push([dest, count]);
  }
  applying.add(node);
  void applyRoutes(node, list)
    .catch((error: unknown) => node.log.verbose('rebalancing stopped', { reason: error instanceof Error ? error.message : String(error) }))
    .finally(() => applying.delete(node));
  return [true];
}

async function applyRoutes(node: Node, routes: ReadonlyArray<[string, number]>): Promise<void> {
  for (const [dest, count] of routes) {
    for (let sent = 0; sent < count; sent++) {
      const bucketId = nextActiveBucket(node);
      if (bucketId === null || node.replication?.isMaster !== true) return;
      const result = await sendBucket(node, bucketId, dest);
      if (result[0] !== true) {
        node.log.verbose('rebalancing stopped on a failed send', { bucket_id: bucketId, reason: JSON.stringify(mapGet(result[1] ?? null, 'message') ?? null) });
        return;
      }
    }
  }
}

function nextActiveBucket(node: Node): number | null {
  if (!node.box.hasSpace(BUCKET_SPACE)) return null;
  const guard = bucketGuard(node);
  for (const row of node.box.space(BUCKET_SPACE).index('status').pairs(['active'])) {
    const id = row[0] as number;
    if (!guard.isSending(id)) return id;
  }
  return null;
}

/** Whether this instance runs the rebalancer: the master of the replicaset with the smallest id. */
export function isRebalancer(node: Node): boolean {
  const config = node.sharding;
  const self = node.self();
  if (config === null || self === undefined || node.replication?.isMaster !== true) return false;
  const first = [...config.replicasets].sort((a, b) => compareIds(a.replicasetId, b.replicasetId))[0];
  return first !== undefined && first.replicasetId === self.replicasetId;
}

async function gatherStates(node: Node): Promise<ReplicasetBuckets[] | null> {
  const config = node.sharding!;
  const states = await Promise.all(
    config.replicasets.map(async (r): Promise<ReplicasetBuckets | null> => {
      if (r.master === '') return null;
      const values = r.master === node.identity?.instanceId ? rebalancerRequestState(node) : await callOrNull(node, r.master);
      const state = values?.[0] ?? null;
      if (!isMpMap(state)) return null;
      return { replicasetId: r.replicasetId, weight: r.weight, active: Number(mapGet(state, 'active') ?? 0), pinned: Number(mapGet(state, 'pinned') ?? 0) };
    }),
  );
  return states.every((s) => s !== null) ? (states as ReplicasetBuckets[]) : null;
}

async function callOrNull(node: Node, instanceId: string): Promise<MpValue[] | null> {
  const outcome = await callInstance(node, instanceId, REBALANCER_REQUEST_STATE, [], STATE_CALL_TIMEOUT_MS);
  return outcome.ok ? outcome.values : null;
}

/** One rebalancer round; a no-op unless this instance is the rebalancer and vshard is bootstrapped. */
export async function rebalanceOnce(node: Node): Promise<void> {
  if (!isRebalancer(node) || !node.tables.vshardBootstrapped()) return;
  const states = await gatherStates(node);
  if (states === null || !isRebalancer(node)) return;
  const plan = planRebalance(states, node.sharding!.bucketCount);
  if (plan.kind === 'impossible') {
    // Buckets a lost replicaset took with it (an expelled last member) keep the sum short for
    // good; a manual bucket_send between two masters' answers makes it off for one round only.
    // Logged once, when the same reason comes twice in a row.
    const previous = lastImpossible.get(node);
    if (previous?.reason === plan.reason && previous.rounds === 1) node.log.warn('rebalancing impossible', { reason: plan.reason });
    lastImpossible.set(node, { reason: plan.reason, rounds: previous?.reason === plan.reason ? previous.rounds + 1 : 1 });
    return;
  }
  lastImpossible.delete(node);
  if (plan.kind !== 'routes') return;
  const byDonor = new Map<string, Map<string, number>>();
  for (const route of plan.routes) {
    const destUuid = node.sharding!.replicasets.find((r) => r.replicasetId === route.to)!.uuid;
    const routes = byDonor.get(route.from) ?? new Map<string, number>();
    routes.set(destUuid, route.count);
    byDonor.set(route.from, routes);
  }
  node.log.info('rebalancing', { max_disbalance_pct: Number.isFinite(plan.maxDisbalancePct) ? Math.round(plan.maxDisbalancePct) : 'inf', routes: plan.routes.map((r) => `${r.from}->${r.to}:${r.count}`).join(', ') });
  for (const [donorId, routes] of byDonor) {
    const donor = node.sharding!.replicasets.find((r) => r.replicasetId === donorId)!;
    const routesValue = Object.fromEntries(routes);
    if (donor.master === node.identity?.instanceId) rebalancerApplyRoutes(node, [routesValue]);
    else await callInstance(node, donor.master, REBALANCER_APPLY_ROUTES, [routesValue], STATE_CALL_TIMEOUT_MS);
  }
  probe('vshard.rebalancer.routes_applied');
}
