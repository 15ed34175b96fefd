import { crc32c } from './crc32c.ts';

/**
 * Checksummed records. Everything a node persists is sealed: 4 bytes of CRC-32C over the payload,
 * then the payload. Stored bytes can rot; an unseal that fails is reported as corruption instead
 * of being served as data.
 */

export class CorruptionError extends Error {
  override readonly name = 'CorruptionError';
  readonly where: string;
  constructor(where: string, detail: string) {
    super(`data corruption in ${where}: ${detail}`);
    this.where = where;
  }
}

export const SEAL_OVERHEAD_BYTES = 4;

export function seal(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(SEAL_OVERHEAD_BYTES + payload.length);
  const crc = crc32c(payload);
  out[0] = crc >>> 24;
  out[1] = (crc >>> 16) & 0xff;
  out[2] = (crc >>> 8) & 0xff;
  out[3] = crc & 0xff;
  out.set(payload, SEAL_OVERHEAD_BYTES);
  return out;
}

/** Returns the payload (a view) or throws CorruptionError naming `where`. */
export function unseal(record: Uint8Array, where: string): Uint8Array {
  if (record.length < SEAL_OVERHEAD_BYTES) throw new CorruptionError(where, `record of ${record.length} bytes is shorter than its checksum`);
  const stored = ((record[0]! << 24) | (record[1]! << 16) | (record[2]! << 8) | record[3]!) >>> 0;
  const payload = record.subarray(SEAL_OVERHEAD_BYTES);
  const actual = crc32c(payload);
  if (stored !== actual) {
    throw new CorruptionError(where, `checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`);
  }
  return payload;
}
