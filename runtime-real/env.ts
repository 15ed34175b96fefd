import { mkdirSync } from 'node:fs';
import type { Env, Lifecycle, StopSignal } from '../core/env/env.ts';
import type { Log, LogLevel } from '../core/env/log.ts';
import { RealClock } from './clock.ts';
import { LmdbDisk } from './disk.ts';
import { WAL_STORE } from '../core/box/box.ts';
import { createRealLog } from './log.ts';
import { RealNetwork } from './network.ts';
import { createRealRandom } from './random.ts';

export interface RealEnvOptions {
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly pretty?: boolean;
  /** A logger made earlier (the daemon logs before the env exists); `logLevel`/`pretty` then unused. */
  readonly log?: Log;
  /** Runs when the process is about to exit, before the disk is closed (the daemon closes HTTP). */
  readonly beforeExit?: (code: number) => Promise<void> | void;
}

export interface RealEnv extends Env {
  /** Closes the disk; called on the way out. */
  shutdown(): Promise<void>;
}

/**
 * The real world behind the Env seam: monotonic clock and Node timers, OS-seeded randomness, TCP,
 * LMDB in the data directory, pino logs, SIGTERM/SIGINT as graceful stop.
 */
export function createRealEnv(options: RealEnvOptions): RealEnv {
  mkdirSync(options.dataDir, { recursive: true });
  const disk = LmdbDisk.open(options.dataDir, { appendLogStores: [WAL_STORE] });
  const log = options.log ?? createRealLog({ level: options.logLevel, ...(options.pretty !== undefined ? { pretty: options.pretty } : {}) });
  const control = realLifecycle(async (code) => {
    try {
      await options.beforeExit?.(code);
    } catch (error) {
      log.warn('exit hook failed', { reason: error instanceof Error ? error.message : String(error) });
    }
    await disk.close();
    log.info('data directory closed, process exits', { code });
  });
  return {
    clock: new RealClock(),
    random: createRealRandom(),
    net: new RealNetwork(),
    disk,
    log,
    lifecycle: control,
    buggify: () => false,
    shutdown: () => disk.close(),
  };
}

function realLifecycle(beforeExit: (code: number) => Promise<void>): Lifecycle {
  let stopHandler: ((signal: StopSignal) => void) | null = null;
  let exiting = false;
  const onSignal = (signal: StopSignal): void => {
    if (stopHandler === null) exit(0);
    else stopHandler(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    beforeExit(code).then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  return {
    onStop: (handler) => {
      stopHandler = handler;
    },
    exit,
  };
}
