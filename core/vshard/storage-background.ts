/**
 * A master's vshard housekeeping, in one loop per instance: recovery and garbage collection of
 * buckets in transit (core/vshard/bucket-recovery.ts) and, on the rebalancer's instance, a
 * rebalancing round (core/vshard/rebalancer.ts), each at its own interval.
 */

import type { Node } from '../node/node.ts';
import { recoverBuckets } from './bucket-recovery.ts';
import { rebalanceOnce } from './rebalancer.ts';

export class VshardBackground {
  private readonly node: Node;
  private stopped = false;

  constructor(node: Node) {
    this.node = node;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const node = this.node;
    const { vshardRecoveryIntervalMs, rebalancerIntervalMs } = node.options.tuning;
    const stepMs = Math.min(...[vshardRecoveryIntervalMs, rebalancerIntervalMs].filter((ms) => ms > 0));
    if (!Number.isFinite(stepMs)) return;
    let nextRecoveryMs = 0;
    let nextRebalanceMs = 0;
    while (!this.stopped) {
      await node.env.clock.sleep(stepMs);
      if (this.stopped || node.state !== 'online') continue;
      const nowMs = node.env.clock.nowMs();
      try {
        if (vshardRecoveryIntervalMs > 0 && nowMs >= nextRecoveryMs) {
          nextRecoveryMs = nowMs + vshardRecoveryIntervalMs;
          await recoverBuckets(node);
        }
        if (rebalancerIntervalMs > 0 && nowMs >= nextRebalanceMs && !this.stopped) {
          nextRebalanceMs = nowMs + rebalancerIntervalMs;
          await rebalanceOnce(node);
        }
      } catch (error) {
        node.log.verbose('vshard background step failed', { reason: error instanceof Error ? error.message : String(error) });
      }
    }
  }
}
