/**
 * The persisted generation counter: two sealed slots written alternately with fsync, so a
 * crash in the middle of a write or one rotten slot never loses the last acknowledged value.
 * If neither slot can be read the data directory is corrupt and the node must not start.
 */

import type { Store } from '../env/disk.ts';
import { assert } from '../lib/assert.ts';
import { utf8 } from '../lib/bytes.ts';
import { CorruptionError, seal, unseal } from '../lib/sealed.ts';

const SLOT_KEYS = [utf8('generation/a'), utf8('generation/b')] as const;

function encodeGeneration(generation: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, generation);
  return seal(bytes);
}

function decodeGeneration(record: Uint8Array, slot: number): number {
  const payload = unseal(record, `generation slot ${slot}`);
  if (payload.length !== 8) throw new CorruptionError(`generation slot ${slot}`, `payload of ${payload.length} bytes`);
  const generation = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
  if (!Number.isSafeInteger(generation) || generation < 1) throw new CorruptionError(`generation slot ${slot}`, `value ${generation}`);
  return generation;
}

/**
 * Reads both slots; returns the highest readable generation (0 for a fresh store). Slots hold two
 * consecutive generations, so a corrupt slot held at most `generation + 1`: callers must skip
 * past it (see `nextGeneration`).
 */
export function readGeneration(store: Store): { generation: number; corruptSlots: number } {
  let best = 0;
  let corruptSlots = 0;
  let present = 0;
  for (let slot = 0; slot < SLOT_KEYS.length; slot++) {
    const record = store.get(SLOT_KEYS[slot]!);
    if (record === undefined) continue;
    present++;
    try {
      best = Math.max(best, decodeGeneration(record, slot));
    } catch (error) {
      if (!(error instanceof CorruptionError)) throw error;
      corruptSlots++;
    }
  }
  if (present > 0 && corruptSlots === present) {
    throw new CorruptionError('generation store', 'every slot is corrupt; refusing to guess the generation');
  }
  return { generation: best, corruptSlots };
}

/** The generation a starting member must take: above anything it may have used before. */
export function nextGeneration(stored: { generation: number; corruptSlots: number }): number {
  return stored.generation + (stored.corruptSlots > 0 ? 2 : 1);
}

/** Durably records `generation` in the slot the previous value is not in. */
export async function writeGeneration(store: Store, generation: number): Promise<void> {
  assert(Number.isSafeInteger(generation) && generation >= 1, 'generation must be a positive integer');
  const slot = generation % 2;
  await store.write([{ kind: 'put', key: SLOT_KEYS[slot]!, value: encodeGeneration(generation) }], 'fsync');
}
