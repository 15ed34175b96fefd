import type { SimRandom } from '../../runtime-sim/random.ts';
import type { ScenarioContext } from '../../runtime-sim/scenario.ts';
import type { SimHost } from '../../runtime-sim/world.ts';

/**
 * The fault injector shared by scenarios (Jepsen calls it the nemesis). It acts at random
 * moments during the safety phase; every action is noted in the trace. `heal` undoes network
 * faults; restarting crashed hosts is the caller's job (it knows how to start its program).
 */

export const NEMESIS_ACTIONS = ['partition_halves', 'partition_reset', 'isolate_one', 'cut_one_way', 'clog_one', 'swizzle_clog', 'crash_power', 'crash_process', 'restart', 'heal', 'rot_disk'] as const;
export type NemesisAction = (typeof NEMESIS_ACTIONS)[number];
/** The network faults and crashes the cluster scenarios with a workload use (no disk faults). */
export const NETWORK_AND_CRASH_ACTIONS: readonly NemesisAction[] = ['clog_one', 'isolate_one', 'partition_halves', 'heal', 'crash_process', 'crash_power', 'restart'];
/** The end of the trace note of an action the run's fault limits kept from taking effect. */
export const SKIPPED_SUFFIX = 'skipped (fault limits)';

export interface NemesisOptions {
  readonly actions: readonly NemesisAction[];
  /** Mean virtual time between actions. */
  readonly meanIntervalMs: number;
  /** Never crash more than this many hosts at once. */
  readonly crashedMax: number;
  readonly restart: (host: SimHost) => void;
  /** Hosts the nemesis may crash or rot (default: all). */
  readonly victims?: () => SimHost[];
  /**
   * Hosts whose stored data may be destroyed over the whole run (default: none). Keep it below
   * half the voters: no replicated system survives losing a majority of its durable copies, and
   * the point is to test the failures the configuration promises to survive.
   */
  readonly corruptedMax?: number;
  /**
   * Whether the data of `host` may be destroyed now, `destroyed` being the hosts rotted before
   * (default: yes). A count alone is not enough: while the governor promotes voters, one host can
   * hold the only vote of a configuration half, and destroying it loses the cluster.
   */
  readonly mayDestroy?: (host: SimHost, destroyed: ReadonlySet<string>) => boolean;
}

export class Nemesis {
  private readonly ctx: ScenarioContext;
  private readonly random: SimRandom;
  private readonly options: NemesisOptions;
  readonly rotted = new Set<string>();
  actionsTaken = 0;

  constructor(ctx: ScenarioContext, options: NemesisOptions) {
    this.ctx = ctx;
    this.random = ctx.world.random.fork('nemesis');
    this.options = options;
  }

  /** Acts until `durationMs` of virtual time passed. */
  async run(durationMs: number): Promise<void> {
    const world = this.ctx.world;
    const endMs = world.nowMs + durationMs;
    for (;;) {
      const waitMs = Math.min(this.random.exponential(this.options.meanIntervalMs), endMs - world.nowMs);
      if (waitMs > 0) await world.sleep(waitMs);
      if (world.nowMs >= endMs) return;
      const action = this.random.pick(this.options.actions);
      if (this.allowed(action)) this.act(action);
      else this.ctx.note(`nemesis ${action} ${SKIPPED_SUFFIX}`);
    }
  }

  /** Whether the run's fault limits (sim shrink) let `action` take effect now. */
  private allowed(action: NemesisAction): boolean {
    const limits = this.ctx.faultLimits;
    if (limits.nemesisWithout?.includes(action) === true) return false;
    return limits.nemesisActionsMax === undefined || this.actionsTaken < limits.nemesisActionsMax;
  }

  private hosts(): SimHost[] {
    return this.options.victims?.() ?? this.ctx.world.hosts;
  }

  act(action: NemesisAction): void {
    const world = this.ctx.world;
    const net = world.net;
    const hosts = this.hosts();
    const running = hosts.filter((h) => h.running);
    const down = hosts.filter((h) => !h.running);
    this.actionsTaken++;
    this.ctx.note(`nemesis ${action}`);
    switch (action) {
      case 'partition_halves':
      case 'partition_reset': {
        const shuffled = this.random.shuffle(world.hosts.map((h) => h.id));
        const cut = 1 + this.random.int(Math.max(1, shuffled.length - 1));
        net.partition([shuffled.slice(0, cut), shuffled.slice(cut)], action === 'partition_reset' ? 'reset' : 'blackhole');
        return;
      }
      case 'isolate_one':
        if (hosts.length > 0) net.isolate(this.random.pick(hosts).id);
        return;
      case 'cut_one_way': {
        if (world.hosts.length < 2) return;
        const [a, b] = this.random.shuffle([...world.hosts]);
        net.cutOneWay(a!.id, b!.id);
        return;
      }
      case 'clog_one':
        if (hosts.length > 0) net.clogHost(this.random.pick(hosts).id, world.nowMs + 500 + this.random.int(4500));
        return;
      case 'swizzle_clog':
        this.swizzleClog();
        return;
      case 'crash_power':
      case 'crash_process':
        if (running.length > 0 && down.length < this.options.crashedMax) {
          this.random.pick(running).crash(action === 'crash_power' ? 'power' : 'process');
        }
        return;
      case 'restart':
        if (down.length > 0) this.options.restart(this.random.pick(down));
        return;
      case 'heal':
        net.heal();
        return;
      case 'rot_disk': {
        const fresh = down.filter((h) => !this.rotted.has(h.name) && (this.options.mayDestroy?.(h, this.rotted) ?? true));
        if (fresh.length === 0 || this.rotted.size >= (this.options.corruptedMax ?? 0)) return;
        const host = this.random.pick(fresh);
        if (host.disk.rotRandomValue() !== null) this.rotted.add(host.name);
        return;
      }
    }
  }

  /** FoundationDB's swizzle: clog a random half one by one, then unclog in another order. */
  private swizzleClog(): void {
    const world = this.ctx.world;
    const chosen = this.random.shuffle([...world.hosts]).slice(0, Math.max(1, world.hosts.length >> 1));
    let atMs = world.nowMs;
    for (const host of chosen) {
      atMs += this.random.int(200);
      world.net.clogHost(host.id, atMs + 1000 + this.random.int(4000));
    }
  }
}
