/**
 * The msgpack type of the next value, from its first byte. iproto validates field types on the
 * wire form (an MP_UINT space id, an MP_ARRAY key), which a decoded JS value cannot tell apart:
 * a float64 1.0 and an uint 1 both decode to the number 1.
 */

/** `float` is float32 (0xca), `double` float64 (0xcb): Tarantool tells them apart. */
export type MpType = 'nil' | 'bool' | 'uint' | 'int' | 'float' | 'double' | 'str' | 'bin' | 'array' | 'map' | 'ext';

export function mpTypeOf(byte: number): MpType {
  if (byte <= 0x7f) return 'uint';
  if (byte <= 0x8f) return 'map';
  if (byte <= 0x9f) return 'array';
  if (byte <= 0xbf) return 'str';
  if (byte >= 0xe0) return 'int';
  return TYPED[byte - 0xc0]!;
}

const TYPED: readonly MpType[] = [
  'nil', 'ext', 'bool', 'bool', // c0-c3 (msgpuck reports the unused c1 as MP_EXT)
  'bin', 'bin', 'bin', // c4-c6
  'ext', 'ext', 'ext', // c7-c9
  'float', 'double', // ca-cb
  'uint', 'uint', 'uint', 'uint', // cc-cf
  'int', 'int', 'int', 'int', // d0-d3
  'ext', 'ext', 'ext', 'ext', 'ext', // d4-d8
  'str', 'str', 'str', // d9-db
  'array', 'array', // dc-dd
  'map', 'map', // de-df
];
