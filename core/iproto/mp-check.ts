/**
 * Structural msgpack validation, as Tarantool's msgpuck `mp_check` does it: it finds where one
 * value ends without building it, iteratively (no recursion, so any nesting depth is fine), and
 * accepts the never-used type byte 0xc1 as a one-byte value, which msgpuck does too. iproto
 * decides "packet header" / "packet body" errors with this check, so the two must agree.
 */

/** Bytes that follow the type byte before the payload or the element count, by type byte. */
function headBytes(t: number): number {
  if (t <= 0xbf || t >= 0xe0) return 0; // fixint, fixmap, fixarray, fixstr, negative fixint
  switch (t) {
    case 0xc4: case 0xd9: case 0xc7: case 0xcc: case 0xd0: return 1;
    case 0xc5: case 0xda: case 0xc8: case 0xcd: case 0xd1: case 0xdc: case 0xde: return 2;
    case 0xc6: case 0xdb: case 0xc9: case 0xce: case 0xd2: case 0xca: case 0xdd: case 0xdf: return 4;
    case 0xcf: case 0xd3: case 0xcb: return 8;
    case 0xd4: return 2; // fixext 1: type + 1 byte
    case 0xd5: return 3;
    case 0xd6: return 5;
    case 0xd7: return 9;
    case 0xd8: return 17;
    default: return 0; // c0 nil, c1 (msgpuck: one byte), c2/c3 bool
  }
}

function readBigEndian(bytes: Uint8Array, at: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) n = n * 256 + bytes[at + i]!;
  return n;
}

/**
 * The offset just past the one msgpack value starting at `start`, or undefined when the bytes up
 * to `end` do not hold a complete value.
 */
export function mpCheck(bytes: Uint8Array, start: number, end: number = bytes.length): number | undefined {
  let at = start;
  let pending = 1; // values still to read
  while (pending > 0) {
    if (at >= end) return undefined;
    const t = bytes[at++]!;
    pending--;
    const head = headBytes(t);
    if (at + head > end) return undefined;
    const next = valueExtent(bytes, t, at, head);
    at = next.payloadEnd;
    if (at > end) return undefined;
    pending += next.children;
  }
  return at;
}

/** Where a value's own bytes end, and how many nested values follow it. */
function valueExtent(bytes: Uint8Array, t: number, at: number, head: number): { payloadEnd: number; children: number } {
  if ((t & 0xf0) === 0x80) return { payloadEnd: at, children: 2 * (t & 0x0f) };
  if ((t & 0xf0) === 0x90) return { payloadEnd: at, children: t & 0x0f };
  if ((t & 0xe0) === 0xa0) return { payloadEnd: at + (t & 0x1f), children: 0 };
  switch (t) {
    case 0xdc: case 0xdd: return { payloadEnd: at + head, children: readBigEndian(bytes, at, head) };
    case 0xde: case 0xdf: return { payloadEnd: at + head, children: 2 * readBigEndian(bytes, at, head) };
    case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb:
      return { payloadEnd: at + head + readBigEndian(bytes, at, head), children: 0 };
    case 0xc7: case 0xc8: case 0xc9: // ext 8/16/32: length, type byte, data
      return { payloadEnd: at + head + 1 + readBigEndian(bytes, at, head), children: 0 };
    default:
      return { payloadEnd: at + head, children: 0 };
  }
}
