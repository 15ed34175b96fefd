/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Used for two things: checksums of every persisted record (so rotten bytes are caught, never
 * served), and vshard bucket hashing, where Tarantool's `digest.crc32` is CRC-32C with initial
 * value 0xFFFFFFFF and *no* final XOR. `crc32c` below is the standard form (with final XOR);
 * `crc32cTarantool` is Tarantool's.
 */

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Continues a running CRC register (no initial or final XOR applied here). */
export function crc32cUpdate(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = register;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}

/** Standard CRC-32C: init 0xFFFFFFFF, final XOR 0xFFFFFFFF. crc32c("123456789") = 0xE3069283. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (crc32cUpdate(0xffffffff, bytes, start, end) ^ 0xffffffff) >>> 0;
}

/** Tarantool's `digest.crc32`: init 0xFFFFFFFF, no final XOR. crc32cTarantool("") = 4294967295. */
export function crc32cTarantool(bytes: Uint8Array): number {
  return crc32cUpdate(0xffffffff, bytes);
}
