/**
 * How a program ends when its data directory cannot be used at start-up. Both programs on the
 * env (the node and the membership program) end the same way, so operators and scenarios can
 * tell rot from a failing disk by the exit code alone.
 */

import { CorruptionError } from '../lib/sealed.ts';
import { DiskError } from './disk.ts';
import type { Env } from './env.ts';

/** sysexits.h EX_IOERR: the disk failed (EIO, ENOSPC, ...); retrying later may work. */
export const EXIT_IO_ERROR = 74;
/** sysexits.h EX_CONFIG: stored data failed its checksums; the program refuses to serve it. */
export const EXIT_CORRUPT_DATA = 78;

/**
 * Logs and exits for a CorruptionError (EXIT_CORRUPT_DATA) or a DiskError (EXIT_IO_ERROR,
 * logged as `diskErrorMessage`). Any other error is not a storage failure: returns false and
 * the caller rethrows it.
 */
export function exitOnStorageFailure(env: Env, error: unknown, diskErrorMessage: string): boolean {
  if (error instanceof CorruptionError) {
    env.log.error('data directory is corrupt, refusing to start', { reason: error.message });
    env.lifecycle.exit(EXIT_CORRUPT_DATA);
    return true;
  }
  if (error instanceof DiskError) {
    env.log.error(diskErrorMessage, { reason: error.message });
    env.lifecycle.exit(EXIT_IO_ERROR);
    return true;
  }
  return false;
}
