import { randomBytes } from 'node:crypto';
import { toHex } from '../core/lib/bytes.ts';
import { Sfc32Random } from '../core/lib/sfc32-random.ts';

/** A fast PRNG seeded from the OS's entropy; a fresh seed for every process. */
export function createRealRandom(): Sfc32Random {
  return new Sfc32Random(`real:${toHex(randomBytes(16))}`);
}
