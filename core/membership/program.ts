/**
 * The membership program: a gossip failure detector that persists its generation. It is the
 * first program proven on both runtimes (simulator and real processes) and the seed of the node's
 * failure detector.
 */

import { exitOnStorageFailure } from '../env/storage-failure.ts';
import type { Env, Program } from '../env/env.ts';
import type { Connection } from '../env/network.ts';
import { decode, encode, type MpValue } from '../codec/msgpack.ts';
import { GossipState, type GossipEntry } from './gossip-state.ts';
import { nextGeneration, readGeneration, writeGeneration } from './generation-store.ts';

export interface MembershipOptions {
  readonly listen: string;
  readonly seeds: readonly string[];
  readonly gossipIntervalMs: number;
  readonly failAfterMs: number;
  /** Peers pushed to per round. */
  readonly fanout: number;
  readonly sampleSize: number;
  /** Outgoing connections kept open; older ones are closed first. */
  readonly connectionsMax: number;
}

export const DEFAULT_MEMBERSHIP_OPTIONS = {
  gossipIntervalMs: 200,
  failAfterMs: 3_000,
  fanout: 2,
  sampleSize: 16,
  connectionsMax: 8,
} as const;

/** Exit codes from sysexits.h, so operators can tell the failures apart. */
export { EXIT_CORRUPT_DATA, EXIT_IO_ERROR } from '../env/storage-failure.ts';

export interface MembershipNode {
  readonly address: string;
  readonly generation: number;
  readonly state: GossipState;
  nowMs(): number;
}

export interface MembershipHooks {
  /** Called once the generation is durable and the node serves. */
  started?(node: MembershipNode): void;
}

export function membershipProgram(options: MembershipOptions, hooks: MembershipHooks = {}): Program {
  return async (env: Env) => {
    const generation = await claimGeneration(env);
    if (generation === null) return;
    const state = new GossipState(options.listen, generation, { failAfterMs: options.failAfterMs, sampleSize: options.sampleSize });
    for (const seed of options.seeds) state.addSeed(seed);
    const listener = await env.net.listen(options.listen, (conn) => {
      conn.onFrame((frame) => receive(env, state, frame));
      conn.onClose(() => {});
    });
    const links = new Links(env, options.connectionsMax);
    let stopped = false;
    const round = (): void => {
      if (stopped) return;
      state.beat();
      const message = encode(state.sample((n) => env.random.int(n)) as unknown as MpValue);
      for (const target of state.targets(options.fanout, (n) => env.random.int(n))) links.send(target, message);
      env.clock.after(options.gossipIntervalMs * (0.75 + 0.5 * env.random.float()), round);
    };
    env.lifecycle.onStop((signal) => {
      stopped = true;
      env.log.info('stopping', { signal });
      listener.close();
      links.closeAll();
      env.lifecycle.exit(0);
    });
    env.log.info('membership started', { address: options.listen, generation });
    hooks.started?.({ address: options.listen, generation, state, nowMs: () => env.clock.nowMs() });
    round();
  };
}

/** Reads the last generation and durably claims the next; null when the node must not start. */
async function claimGeneration(env: Env): Promise<number | null> {
  try {
    const store = await env.disk.open('membership');
    const stored = readGeneration(store);
    if (stored.corruptSlots > 0) env.log.warn('generation slot corrupt, skipping past it', { corruptSlots: stored.corruptSlots });
    const generation = nextGeneration(stored);
    await writeGeneration(store, generation);
    return generation;
  } catch (error) {
    if (exitOnStorageFailure(env, error, 'disk error while claiming a generation')) return null;
    throw error;
  }
}

function receive(env: Env, state: GossipState, frame: Uint8Array): void {
  let entries: GossipEntry[];
  try {
    entries = parseEntries(decode(frame));
  } catch (error) {
    env.log.warn('dropping malformed gossip', { reason: error instanceof Error ? error.message : String(error) });
    return;
  }
  state.merge(entries, env.clock.nowMs());
}

function parseEntries(value: MpValue): GossipEntry[] {
  if (!Array.isArray(value)) throw new Error('gossip is not an array');
  return value.map((entry: MpValue): GossipEntry => {
    if (!Array.isArray(entry) || entry.length !== 3) throw new Error('gossip entry is not a triple');
    const [address, generation, version] = entry as MpValue[];
    if (typeof address !== 'string' || typeof generation !== 'number' || typeof version !== 'number') {
      throw new Error('gossip entry has wrong types');
    }
    return [address, generation, version];
  });
}

/** A bounded cache of outgoing connections. */
class Links {
  private readonly env: Env;
  private readonly connectionsMax: number;
  private readonly open = new Map<string, Connection>();
  private readonly connecting = new Set<string>();

  constructor(env: Env, connectionsMax: number) {
    this.env = env;
    this.connectionsMax = connectionsMax;
  }

  send(address: string, frame: Uint8Array): void {
    const conn = this.open.get(address);
    if (conn !== undefined && !conn.isClosed) {
      conn.send(frame);
      return;
    }
    if (this.connecting.has(address)) return; // this round's message to it is skipped
    this.connecting.add(address);
    this.env.net.connect(address, { timeoutMs: 1_000 }).then(
      (fresh) => {
        this.connecting.delete(address);
        fresh.onFrame(() => {});
        fresh.onClose(() => {
          if (this.open.get(address) === fresh) this.open.delete(address);
        });
        this.evictIfFull();
        this.open.set(address, fresh);
        fresh.send(frame);
      },
      () => this.connecting.delete(address),
    );
  }

  private evictIfFull(): void {
    while (this.open.size >= this.connectionsMax) {
      const [oldest, conn] = this.open.entries().next().value as [string, Connection];
      this.open.delete(oldest);
      conn.close();
    }
  }

  closeAll(): void {
    for (const conn of this.open.values()) conn.close();
    this.open.clear();
  }
}
