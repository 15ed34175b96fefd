/**
 * CALL_16 result shaping. The pre-1.7 CALL returns a list of *tuples*, so Tarantool turns a Lua
 * function's return values into tuples (src/box/lua/call.c, port_lua_dump_16):
 *   return x               -> [[x]]              a scalar becomes a one-field tuple
 *   return {a, b}          -> [[a, b]]           a table of scalars is one tuple
 *   return {t1, t2}        -> [t1, t2]           a single table whose first element is a table
 *                                                is a list of tuples (scalars in it are wrapped)
 *   return x, {..}         -> [[x], [..]]        several values: each is shaped on its own
 *   return {}              -> [[]]
 *   return                 -> []
 * CALL (1.7+) sends the values verbatim instead. Here a JS array stands for a Lua array-like
 * table; anything else (maps included) is treated as a scalar.
 */

import type { MpValue } from '../codec/msgpack.ts';

export function shapeCall16(values: readonly MpValue[]): MpValue[] {
  if (values.length === 1 && Array.isArray(values[0])) {
    const table = values[0] as readonly MpValue[];
    if (table.length > 0 && Array.isArray(table[0])) return table.map(asTuple);
  }
  return values.map(asTuple);
}

function asTuple(value: MpValue): MpValue {
  return Array.isArray(value) ? value : [value];
}
