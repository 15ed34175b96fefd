import { membershipProgram, DEFAULT_MEMBERSHIP_OPTIONS, EXIT_CORRUPT_DATA, EXIT_IO_ERROR, type MembershipNode } from '../core/membership/program.ts';
import { NO_DISK_FAULTS } from '../runtime-sim/disk.ts';
import { DEFAULT_NET_FAULTS } from '../runtime-sim/network.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import type { SimHost } from '../runtime-sim/world.ts';
import { Nemesis } from './lib/nemesis.ts';

/**
 * smoke: the membership program on many hosts under partitions, crashes and disk faults.
 *
 * Safety: a member's generation strictly increases across its restarts (it is fsynced before
 * use, so no power loss may roll it back; a rotten slot must be skipped past, never reused).
 * Liveness: once faults stop and crashed members restart, every running member sees every
 * running member alive at its current generation, and every stopped one dead.
 */

const SAFETY_PHASE_MS = 30_000;

interface SmokeState {
  readonly generations: Map<string, number[]>;
  readonly live: Map<string, MembershipNode>;
  nemesis: Nemesis | null;
  failAfterMs: number;
}

const states = new WeakMap<ScenarioContext, SmokeState>();

function stateOf(ctx: ScenarioContext): SmokeState {
  const state = states.get(ctx);
  if (state === undefined) throw new Error('smoke: setup did not run');
  return state;
}

function address(host: SimHost): string {
  return `${host.name}:3301`;
}

function start(ctx: ScenarioContext, host: SimHost): void {
  const state = stateOf(ctx);
  const seeds = ctx.world.hosts.slice(0, 3).map(address);
  const options = { ...DEFAULT_MEMBERSHIP_OPTIONS, listen: address(host), seeds, failAfterMs: state.failAfterMs, sampleSize: 64 };
  host.start(membershipProgram(options, {
    started: (node) => {
      const previous = state.generations.get(host.name) ?? [];
      const last = previous[previous.length - 1];
      if (last !== undefined && node.generation <= last) {
        ctx.violation(`${host.name} reused generation ${node.generation} after ${last}`);
      }
      state.generations.set(host.name, [...previous, node.generation]);
      state.live.set(host.name, node);
    },
  }));
}

export const smoke: Scenario = {
  name: 'smoke',
  description: 'gossip failure detector with persisted generations under partitions, crashes and disk faults',
  defaultNodes: 50,
  eventsMax: 200_000_000,
  virtualMsMax: 600_000,

  worldOptions(_seed, _nodes, random) {
    return {
      net: {
        ...DEFAULT_NET_FAULTS,
        latencyMsMin: 0.05 + random.float() * 2,
        latencyMsMean: 0.1 + random.float() * 10,
        frameLossRate: random.pick([0, 1e-4, 1e-3]),
      },
      disk: {
        ...NO_DISK_FAULTS,
        fsyncLatencyMsMin: 0.1 + random.float() * 2,
        fsyncLatencyMsMean: 0.5 + random.float() * 10,
        // Every seed injects I/O errors (and rot, through the nemesis): disk faults are the point.
        writeErrorRate: random.pick([0.002, 0.01]),
        readErrorRate: random.pick([0, 0.01]),
      },
      buggify: random.chance(0.8),
    };
  },

  async setup(ctx) {
    states.set(ctx, { generations: new Map(), live: new Map(), nemesis: null, failAfterMs: 3_000 + 25 * ctx.nodes });
    for (let i = 1; i <= ctx.nodes; i++) ctx.world.addHost(`n${i}`);
    for (const host of ctx.world.hosts) start(ctx, host);
    await ctx.world.sleep(1_000);
  },

  async run(ctx) {
    const state = stateOf(ctx);
    const nemesis = new Nemesis(ctx, {
      actions: ['partition_halves', 'partition_reset', 'isolate_one', 'cut_one_way', 'clog_one', 'swizzle_clog', 'crash_power', 'crash_process', 'restart', 'restart', 'heal', 'rot_disk'],
      meanIntervalMs: 1_500,
      crashedMax: Math.max(1, Math.floor(ctx.nodes / 4)),
      corruptedMax: ctx.nodes, // the failure detector keeps nothing others need: any host may rot
      restart: (host) => start(ctx, host),
    });
    state.nemesis = nemesis;
    await nemesis.run(SAFETY_PHASE_MS);
    ctx.note('liveness phase');
    ctx.world.net.heal();
    ctx.world.net.faults = { ...ctx.world.net.faults, frameLossRate: 0 };
    for (const host of ctx.world.hosts) host.disk.faults = NO_DISK_FAULTS;
    for (const host of ctx.world.hosts) if (!host.running && mayRestart(ctx, host)) start(ctx, host);
    await ctx.world.sleep(3 * state.failAfterMs);
  },

  async check(ctx) {
    const state = stateOf(ctx);
    checkExits(ctx, state);
    const running = ctx.world.hosts.filter((h) => h.running);
    for (const observer of running) {
      const node = state.live.get(observer.name);
      if (node === undefined) {
        ctx.violation(`${observer.name} runs but never started serving`);
        continue;
      }
      checkView(ctx, state, node);
    }
  },
};

/** A host whose data is corrupt must stay down: restarting it would only refuse again. */
function mayRestart(ctx: ScenarioContext, host: SimHost): boolean {
  const last = host.history[host.history.length - 1];
  return !(last?.kind === 'exited' && last.code === EXIT_CORRUPT_DATA);
}

function checkExits(ctx: ScenarioContext, state: SmokeState): void {
  for (const host of ctx.world.hosts) {
    for (const status of host.history) {
      if (status.kind !== 'exited' || status.code === 0) continue;
      if (status.code === EXIT_CORRUPT_DATA && state.nemesis?.rotted.has(host.name)) continue;
      if (status.code === EXIT_IO_ERROR) continue; // write errors were injected
      ctx.violation(`${host.name} exited with code ${status.code}`);
    }
  }
}

function checkView(ctx: ScenarioContext, state: SmokeState, node: MembershipNode): void {
  const nowMs = node.nowMs();
  for (const host of ctx.world.hosts) {
    if (address(host) === node.address) continue;
    const alive = node.state.isAlive(address(host), nowMs);
    if (!host.running) {
      if (alive) ctx.violation(`${node.address} still sees stopped ${host.name} alive`);
      continue;
    }
    const current = state.live.get(host.name)!.generation;
    const seen = node.state.view(address(host))?.heartbeat.generation;
    if (!alive || seen !== current) {
      ctx.violation(`${node.address} sees ${host.name} ${alive ? 'alive' : 'dead'} at generation ${seen}, but it runs generation ${current}`);
    }
  }
}
