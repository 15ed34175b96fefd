/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Used for two things: checksums of every persisted record (so rotten bytes are caught, never
 * served), and vshard bucket hashing, where Tarantool's `digest.crc32` is CRC-32C with initial
 * value 0xFFFFFFFF and *no* final XOR. `crc32c` below is the standard form (with final XOR);
 * `crc32cTarantool` is Tarantool's.
 */

/**
 * Slicing-by-8 tables: TABLES[k * 256 + b] is the CRC register contribution of byte b followed
 * by k zero bytes, so eight input bytes fold into the register with eight independent lookups
 * (Intel's slicing-by-8). Int32 entries keep the arithmetic in 32-bit integers in V8.
 */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
}

/** Below this many bytes the byte-wise loop wins (no DataView to set up). */
const SLICING_BYTES_MIN = 32;

/** Continues a running CRC register (no initial or final XOR applied here). */
export function crc32cUpdate(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let crc = register | 0;
  let i = start;
  if (end - start >= SLICING_BYTES_MIN) {
    // Byte-wise until the rest is a multiple of 8, then two little-endian words per step.
    for (; (end - i) % 8 !== 0; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (; i < end; i += 8) {
      const lo = crc ^ view.getInt32(i, true);
      const hi = view.getInt32(i + 4, true);
      crc =
        t[0x700 + (lo & 0xff)]! ^
        t[0x600 + ((lo >>> 8) & 0xff)]! ^
        t[0x500 + ((lo >>> 16) & 0xff)]! ^
        t[0x400 + (lo >>> 24)]! ^
        t[0x300 + (hi & 0xff)]! ^
        t[0x200 + ((hi >>> 8) & 0xff)]! ^
        t[0x100 + ((hi >>> 16) & 0xff)]! ^
        t[hi >>> 24]!;
    }
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
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
