import type { Clock } from './clock.ts';
import type { Disk } from './disk.ts';
import type { Log } from './log.ts';
import type { Network } from './network.ts';
import type { Random } from './random.ts';

export type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * The node's life as its runtime sees it: how it learns it should stop, and how it ends (a Node
 * process in the real world, a simulated host in the simulator).
 */
export interface Lifecycle {
  /**
   * Sets the graceful-stop handler (SIGTERM/SIGINT semantics). Without one, a stop signal ends the
   * process at once with code 0. A second signal while the handler runs is delivered again.
   */
  onStop(handler: (signal: StopSignal) => void): void;
  /**
   * Ends the process with `code`. Nothing of this process runs afterwards: pending timers,
   * connections and continuations are dropped (in the simulator too).
   */
  exit(code: number): void;
}

/**
 * Everything a node may touch outside itself. `core/` reaches time, randomness, network and disk
 * only through this bundle; that is what lets the same node run as a daemon and in the simulator.
 */
export interface Env {
  readonly clock: Clock;
  readonly random: Random;
  readonly net: Network;
  readonly disk: Disk;
  readonly log: Log;
  readonly lifecycle: Lifecycle;
  /**
   * Simulation-only fault injection (FoundationDB's BUGGIFY): true when this site should take
   * its rare-but-legal path now. Always false in the real world.
   */
  buggify(site: string): boolean;
}

/** A program the runtimes can start: the node, or a small test program. */
export type Program = (env: Env) => void | Promise<void>;
