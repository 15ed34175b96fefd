/**
 * Discovery rounds (REFERENCE 1.3): ask every unvisited peer (or the smallest one when all are
 * visited) in parallel, each with a 2 s timeout, rounds at least 200 ms apart, until this
 * instance knows whether it bootstraps the cluster or whom to join.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { Discovery, type DiscoveryRole } from '../cluster/discovery.ts';
import { discoveryStateFromValue, PROC_DISCOVER } from '../rpc/discover.ts';
import type { Node } from './node.ts';

export async function discover(node: Node): Promise<DiscoveryRole> {
  const { clock, random } = node.env;
  const tuning = node.options.tuning;
  const discovery = new Discovery(random.uuid(), node.options.peers);
  node.discovery = discovery;
  node.state = 'discovery';
  node.log.info('discovery started', { peers: node.options.peers.join(',') });
  for (;;) {
    const done = discovery.done;
    if (done !== undefined) {
      node.log.info('discovery finished', done.kind === 'leader' ? { role: 'bootstrap leader' } : { leader: done.leader });
      return done;
    }
    const roundStartedMs = clock.nowMs();
    await Promise.all(discovery.targets().map((target) => ask(node, discovery, target, tuning.discoveryRequestTimeoutMs)));
    const elapsedMs = clock.nowMs() - roundStartedMs;
    if (elapsedMs < tuning.discoveryRoundMs) await clock.sleep(tuning.discoveryRoundMs - elapsedMs);
  }
}

async function ask(node: Node, discovery: Discovery, target: string, timeoutMs: number): Promise<void> {
  const state = discovery.state();
  if (state.kind !== 'election') return;
  const request: MpValue = { tmp_id: state.tmpId, peers: [...state.peers] };
  const result = await node.pool.call(target, PROC_DISCOVER, [request, target], timeoutMs);
  if (!result.ok) {
    discovery.handleFailure(target);
    return;
  }
  try {
    discovery.handleReply(target, discoveryStateFromValue(result.value[0] ?? null));
  } catch {
    discovery.handleFailure(target);
  }
}
