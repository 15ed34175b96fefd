/**
 * The router half of vshard, served by every instance (Picodata runs a router on each):
 *
 * - `vshard.router.call(bucket_id, mode, function_name, args, opts)`, `callro(bucket_id, ...)`,
 *   `callrw(bucket_id, ...)`: runs the function where the bucket is, through
 *   `vshard.storage.call` there, and returns its results, or `nil, err` (REFERENCE 5.5).
 * - `bucket_id_strcrc32(key)`, `bucket_id_mpcrc32(key)`, `bucket_id(key)` (the old name of
 *   strcrc32) and `bucket_count()`.
 *
 * Routes (bucket -> replicaset) are learned on a miss by asking every replicaset's master for the
 * bucket (`bucket_stat`; the first that has it wins) and kept until a storage answers
 * WRONG_BUCKET, whose `destination` (a replicaset uuid) becomes the new route when it names one.
 * WRONG_BUCKET, TRANSFER_IS_IN_PROGRESS, BUCKET_IS_LOCKED, NON_MASTER, NO_ROUTE_TO_BUCKET and an
 * unreachable replicaset are retried until `opts.timeout` (seconds, default 0.5) runs out; any
 * other error, a failure of the function itself, no answer in time, and a write whose connection
 * failed (it may have run) are returned at once: a write the router retries never ran.
 *
 * Reads go to the master too: replicas do not hold the replicaset's data until data replication
 * (WAL streaming) exists, so a read there would miss acknowledged writes. When it exists, callro
 * gets vshard's replica priority list.
 */

import { isMpMap, mapGet, mpNumber, type MpValue } from '../codec/msgpack.ts';
import { BUCKET_COUNT, type Node, type ShardingConfig } from '../node/node.ts';
import { ProcError, str } from '../rpc/proc-error.ts';
import { checkRoutable, type VshardContext, type VshardFunction } from './context.ts';
import { isShardingError, missingMaster, noRouteToBucket, unreachableReplicaset, type ShardingError } from './error.ts';
import { bucketIdMpcrc32, bucketIdStrcrc32 } from './hash.ts';
import { parseMode, type CallMode } from './mode.ts';
import { bucketStat, STORAGE_BUCKET_STAT, STORAGE_CALL, storageCall } from './storage.ts';
import { probe } from '../lib/probe.ts';
import { callInstance, ER_TIMEOUT, type PeerOutcome } from './peer-call.ts';

/** vshard's default `timeout` of a router call (REFERENCE 5.2). */
export const ROUTER_CALL_TIMEOUT_MS = 500;
/** Pause before retrying a call whose bucket is moving or whose replicaset has no master yet. */
export const ROUTER_RETRY_DELAY_MS = 10;

type ReplicasetConfig = ShardingConfig['replicasets'][number];

/** Known routes of each node's router: bucket id -> replicaset id. */
const routesOf = new WeakMap<Node, Map<number, string>>();

function routes(node: Node): Map<number, string> {
  let map = routesOf.get(node);
  if (map === undefined) {
    map = new Map();
    routesOf.set(node, map);
  }
  return map;
}

function shardingOf(node: Node): ShardingConfig {
  if (node.sharding === null) throw new ProcError('vshard router is not configured yet: the governor has not sent this instance the sharding configuration');
  return node.sharding;
}

function bucketIdArg(value: MpValue, config: ShardingConfig): number {
  // A Lua number may come as a double (1.0): it is still bucket 1.
  const id = mpNumber(value);
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > config.bucketCount) {
    throw new ProcError(`Bucket is unreachable: bucket id is out of range (1..${config.bucketCount}), got ${typeof value === 'bigint' ? String(value) : JSON.stringify(id ?? value ?? null)}`);
  }
  return id;
}

/** `opts.timeout` in seconds, as milliseconds. */
function timeoutArg(opts: MpValue): number {
  if (opts === null || opts === undefined) return ROUTER_CALL_TIMEOUT_MS;
  if (!isMpMap(opts)) throw new ProcError('opts must be a map');
  const timeout = mapGet(opts, 'timeout');
  if (timeout === null || timeout === undefined) return ROUTER_CALL_TIMEOUT_MS;
  const seconds = mpNumber(timeout);
  if (seconds === undefined || !(seconds >= 0)) throw new ProcError('opts.timeout must be a non-negative number of seconds');
  return seconds * 1000;
}

async function callOn(context: VshardContext, instanceId: string, fn: string, args: MpValue[], timeoutMs: number): Promise<PeerOutcome> {
  if (instanceId === context.node.identity?.instanceId) {
    // This instance: no connection to itself.
    const local = fn === STORAGE_CALL ? await storageCall(context, args) : bucketStat(context, args);
    return { ok: true, values: local };
  }
  return callInstance(context.node, instanceId, fn, args, timeoutMs);
}

/**
 * The replicaset that has the bucket, asking every master at once; or why none could be found.
 * The first master that has it answers the lookup: an unreachable replicaset costs a lookup its
 * time only when no reachable one has the bucket.
 */
function discover(context: VshardContext, config: ShardingConfig, bucketId: number, timeoutMs: number): Promise<ReplicasetConfig | ShardingError> {
  return new Promise((resolve) => {
    let unanswered = config.replicasets.length;
    let unreachable: ShardingError | null = null;
    const settle = (): void => {
      if (--unanswered > 0) return;
      if (unreachable === null) probe('vshard.router.no_route');
      resolve(unreachable ?? noRouteToBucket(bucketId));
    };
    if (unanswered === 0) resolve(noRouteToBucket(bucketId));
    for (const replicaset of config.replicasets) {
      if (replicaset.master === '') {
        unreachable ??= unreachableReplicaset(replicaset.uuid, bucketId, 'no master');
        settle();
        continue;
      }
      void callOn(context, replicaset.master, STORAGE_BUCKET_STAT, [bucketId], timeoutMs).then((outcome) => {
        if (outcome.ok && isMpMap(outcome.values[0] ?? null)) {
          // Only the first hit is kept; later answers find the promise settled.
          if (unanswered > 0) routes(context.node).set(bucketId, replicaset.replicasetId);
          unanswered = 0;
          resolve(replicaset);
          return;
        }
        if (!outcome.ok) unreachable ??= unreachableReplicaset(replicaset.uuid, bucketId, String(mapGet(outcome.error, 'message') ?? 'call failed'));
        if (unanswered > 0) settle();
      }, () => {
        // callOn does not reject; a local bucket_stat that threw is a miss.
        if (unanswered > 0) settle();
      });
    }
  });
}

async function route(context: VshardContext, config: ShardingConfig, bucketId: number, timeoutMs: number): Promise<ReplicasetConfig | ShardingError> {
  const known = routes(context.node).get(bucketId);
  const replicaset = known === undefined ? undefined : config.replicasets.find((r) => r.replicasetId === known);
  return replicaset ?? discover(context, config, bucketId, timeoutMs);
}

/** Follows WRONG_BUCKET: the destination replicaset (by uuid) becomes the route, else none is kept. */
function reroute(node: Node, config: ShardingConfig, bucketId: number, error: MpValue): void {
  const destination = mapGet(error, 'destination');
  const target = typeof destination === 'string' ? config.replicasets.find((r) => r.uuid === destination) : undefined;
  if (target === undefined) routes(node).delete(bucketId);
  else {
    probe('vshard.router.rerouted');
    routes(node).set(bucketId, target.replicasetId);
  }
}

function retryable(error: MpValue): boolean {
  return (
    isShardingError(error, 'WRONG_BUCKET') ||
    isShardingError(error, 'TRANSFER_IS_IN_PROGRESS') ||
    isShardingError(error, 'BUCKET_IS_LOCKED') ||
    isShardingError(error, 'NON_MASTER') ||
    isShardingError(error, 'MISSING_MASTER') ||
    isShardingError(error, 'NO_ROUTE_TO_BUCKET') ||
    isShardingError(error, 'UNREACHABLE_REPLICASET')
  );
}

/** One routed call: the function's results, or `[null, err]`. */
export async function routerCall(context: VshardContext, bucketId: number, mode: CallMode, fn: string, args: MpValue[], timeoutMs: number): Promise<MpValue[]> {
  const node = context.node;
  const clock = node.env.clock;
  const deadline = clock.nowMs() + timeoutMs;
  for (;;) {
    const config = shardingOf(node);
    const remainingMs = deadline - clock.nowMs();
    const target = await route(context, config, bucketId, remainingMs);
    let error: MpValue;
    if ('type' in target) {
      error = target;
    } else if (target.master === '') {
      error = missingMaster(target.uuid);
    } else {
      const outcome = await callOn(context, target.master, STORAGE_CALL, [bucketId, mode, fn, args], deadline - clock.nowMs());
      if (outcome.ok) {
        const [status, ...results] = outcome.values;
        if (status === true) return results;
        error = results[0] ?? null;
        // `false, err`: the function ran and failed; that is the caller's answer, not routing's.
        if (status === false) return [null, error];
        if (isShardingError(error, 'WRONG_BUCKET')) reroute(node, config, bucketId, error);
      } else {
        error = outcome.error;
        // An error reply of the storage, or no answer in time: the caller's answer as it is. A
        // write whose connection failed may have run there: retrying could run it twice.
        if (mode === 'write' && outcome.transport && mapGet(error, 'code') !== ER_TIMEOUT) probe('vshard.router.write_not_retried');
        if (!outcome.transport || mapGet(error, 'code') === ER_TIMEOUT || mode === 'write') return [null, error];
        routes(node).delete(bucketId);
        error = unreachableReplicaset(target.uuid, bucketId, String(mapGet(error, 'message')));
      }
    }
    if (!retryable(error) || clock.nowMs() + ROUTER_RETRY_DELAY_MS >= deadline) return [null, error];
    probe('vshard.router.retried');
    await clock.sleep(ROUTER_RETRY_DELAY_MS);
  }
}

function callWithMode(mode: CallMode | null): VshardFunction {
  return (context, args) => {
    const config = shardingOf(context.node);
    const rest = mode === null ? args.slice(2) : args.slice(1);
    const bucketId = bucketIdArg(args[0] ?? null, config);
    const callMode = mode ?? parseMode(args[1] ?? null);
    const fn = str(rest[0] ?? null, 'function_name');
    checkRoutable(fn, context.user);
    const fnArgs = rest[1] ?? [];
    if (!Array.isArray(fnArgs)) throw new ProcError('args must be an array');
    return routerCall(context, bucketId, callMode, fn, fnArgs as MpValue[], timeoutArg(rest[2] ?? null));
  };
}

/** Hashing needs only the bucket count, which is fixed: no sharding configuration required. */
function bucketCountOf(context: VshardContext): number {
  return context.node.sharding?.bucketCount ?? BUCKET_COUNT;
}

export const ROUTER_FUNCTIONS: ReadonlyArray<[string, VshardFunction]> = [
  ['vshard.router.call', callWithMode(null)],
  ['vshard.router.callro', callWithMode('read')],
  ['vshard.router.callrw', callWithMode('write')],
  ['vshard.router.bucket_count', (context) => [bucketCountOf(context)]],
  ['vshard.router.bucket_id_strcrc32', (context, args) => [bucketIdStrcrc32(args[0] ?? null, bucketCountOf(context))]],
  ['vshard.router.bucket_id', (context, args) => [bucketIdStrcrc32(args[0] ?? null, bucketCountOf(context))]],
  ['vshard.router.bucket_id_mpcrc32', (context, args) => [bucketIdMpcrc32(args[0] ?? null, bucketCountOf(context))]],
];
