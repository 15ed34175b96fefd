/**
 * Differential tests against a real Tarantool (Debian's 2.6.0): the same requests go to it and to
 * our server (same spaces, functions, users: tarantool-reference.lua mirrors memory-backend.ts),
 * and the replies must agree: request types, error codes and messages, CALL/CALL_16 results.
 * Our client is also checked against the real server. Skipped, loudly, without the binary.
 */

import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapGet, MpReader, type MpValue } from '../../core/codec/msgpack.ts';
import { fromHex } from '../../core/lib/bytes.ts';
import { IprotoClient } from '../../core/iproto/client.ts';
import { RequestType } from '../../core/iproto/constants.ts';
import { encodeAuthFrame, encodeRequestFrame } from '../../core/iproto/request-encode.ts';
import { RealClock } from '../../runtime-real/clock.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { anyFrame } from './frame-arbitraries.ts';
import { forJson, exchange } from './raw-exchange.ts';
import { startRealServer, type RealServer } from './real-server.ts';
import { startTarantool, tarantoolPresent, type TarantoolProcess } from './tarantool-process.ts';

const SCRIPT = fileURLToPath(new URL('./tarantool-reference.lua', import.meta.url));

const present = tarantoolPresent();
if (!present) console.warn('SKIPPED differential tests: no `tarantool` binary on PATH; run scripts/install-test-deps.sh');

const m = (entries: Array<[number, MpValue]>): Map<number, MpValue> => new Map(entries);

/** Protocol-level cases: malformed headers and bodies, missing fields, bad types, unknown types. */
const CASES: ReadonlyArray<[string, Uint8Array]> = [
  ['ping', encodeRequestFrame(RequestType.PING, 1, undefined)],
  ['ping with empty body', encodeRequestFrame(RequestType.PING, 2, m([]))],
  ['no type', fromHex('810103')],
  ['unknown type 99', encodeRequestFrame(99, 4, undefined)],
  ['header with a string key', fromHex('82a1610101 05'.replace(/ /g, ''))],
  ['sync as a string', fromHex('82000101a178')],
  ['body is an array', fromHex('820040010790')],
  ['garbage after the body', fromHex('82004001088081')],
  ['select without body', encodeRequestFrame(RequestType.SELECT, 9, undefined)],
  ['select without limit', encodeRequestFrame(RequestType.SELECT, 10, m([[0x10, 512]]))],
  ['select without key', encodeRequestFrame(RequestType.SELECT, 11, m([[0x10, 512], [0x12, 1]]))],
  ['select negative space', encodeRequestFrame(RequestType.SELECT, 12, m([[0x10, -1], [0x12, 1], [0x20, []]]))],
  ['select key not array', encodeRequestFrame(RequestType.SELECT, 13, m([[0x10, 512], [0x12, 1], [0x20, 1]]))],
  ['insert without tuple', encodeRequestFrame(RequestType.INSERT, 14, m([[0x10, 512]]))],
  ['insert', encodeRequestFrame(RequestType.INSERT, 15, m([[0x10, 512], [0x21, [1, 'one']]]))],
  ['insert duplicate', encodeRequestFrame(RequestType.INSERT, 16, m([[0x10, 512], [0x21, [1, 'again']]]))],
  ['replace', encodeRequestFrame(RequestType.REPLACE, 17, m([[0x10, 512], [0x21, [2, 'two']]]))],
  ['select all', encodeRequestFrame(RequestType.SELECT, 18, m([[0x10, 512], [0x12, 100], [0x14, 2], [0x20, []]]))],
  ['update (0-based, no INDEX_BASE)', encodeRequestFrame(RequestType.UPDATE, 19, m([[0x10, 512], [0x20, [2]], [0x21, [['=', 1, 'TWO']]]]))],
  ['update with INDEX_BASE 1', encodeRequestFrame(RequestType.UPDATE, 20, m([[0x10, 512], [0x20, [2]], [0x21, [['=', 2, 'Two']]], [0x15, 1]]))],
  ['update missing key', encodeRequestFrame(RequestType.UPDATE, 21, m([[0x10, 512], [0x20, [99]], [0x21, [['=', 1, 'x']]]]))],
  // Point selects (EQ, a full primary key: the server's fast route) and their near misses.
  ['point select that finds a tuple', encodeRequestFrame(RequestType.SELECT, 59, m([[0x10, 512], [0x12, 1], [0x20, [1]]]))],
  ['point select that finds none', encodeRequestFrame(RequestType.SELECT, 60, m([[0x10, 512], [0x12, 0xffffffff], [0x20, [99]]]))],
  ['point select with an offset', encodeRequestFrame(RequestType.SELECT, 61, m([[0x10, 512], [0x12, 1], [0x13, 1], [0x20, [1]]]))],
  ['point select with limit 0', encodeRequestFrame(RequestType.SELECT, 62, m([[0x10, 512], [0x12, 0], [0x20, [1]]]))],
  ['point select by REQ', encodeRequestFrame(RequestType.SELECT, 63, m([[0x10, 512], [0x12, 1], [0x14, 1], [0x20, [2]]]))],
  ['update without key', encodeRequestFrame(RequestType.UPDATE, 22, m([[0x10, 512], [0x21, []]]))],
  ['delete', encodeRequestFrame(RequestType.DELETE, 23, m([[0x10, 512], [0x20, [1]]]))],
  ['delete again', encodeRequestFrame(RequestType.DELETE, 24, m([[0x10, 512], [0x20, [1]]]))],
  ['upsert without ops', encodeRequestFrame(RequestType.UPSERT, 25, m([[0x10, 512], [0x21, [3, 'x']]]))],
  ['upsert', encodeRequestFrame(RequestType.UPSERT, 26, m([[0x10, 512], [0x21, [3, 'x']], [0x28, [['=', 1, 'y']]]]))],
  ['call echo', encodeRequestFrame(RequestType.CALL, 27, m([[0x22, 'echo'], [0x21, [1, 'a', [2]]]]))],
  ['call without args', encodeRequestFrame(RequestType.CALL, 28, m([[0x22, 'nothing']]))],
  ['call missing function', encodeRequestFrame(RequestType.CALL, 29, m([[0x22, 'nope'], [0x21, []]]))],
  ['call boom', encodeRequestFrame(RequestType.CALL, 30, m([[0x22, 'boom'], [0x21, []]]))],
  ['call without name', encodeRequestFrame(RequestType.CALL, 31, m([[0x21, []]]))],
  ['call name not a string', encodeRequestFrame(RequestType.CALL, 32, m([[0x22, 5]]))],
  ['call16 sum', encodeRequestFrame(RequestType.CALL_16, 33, m([[0x22, 'sum'], [0x21, [1, 2]]]))],
  ['call16 pair', encodeRequestFrame(RequestType.CALL_16, 34, m([[0x22, 'pair'], [0x21, []]]))],
  ['call16 tuples', encodeRequestFrame(RequestType.CALL_16, 35, m([[0x22, 'tuples'], [0x21, []]]))],
  ['call16 multi', encodeRequestFrame(RequestType.CALL_16, 36, m([[0x22, 'multi'], [0x21, []]]))],
  ['call16 nothing', encodeRequestFrame(RequestType.CALL_16, 37, m([[0x22, 'nothing'], [0x21, []]]))],
  ['eval', encodeRequestFrame(RequestType.EVAL, 38, m([[0x27, 'return ...'], [0x21, [1, 'x']]]))],
  ['eval without expression', encodeRequestFrame(RequestType.EVAL, 39, m([[0x21, []]]))],
  ['auth without tuple', encodeRequestFrame(RequestType.AUTH, 40, m([[0x23, 'test']]))],
  ['auth without user', encodeRequestFrame(RequestType.AUTH, 41, m([[0x21, []]]))],
  ['auth unknown user', encodeAuthFrame(42, 'nobody', new Uint8Array(20))],
  ['auth wrong password', encodeAuthFrame(43, 'test', new Uint8Array(20))],
  ['auth back to guest', encodeRequestFrame(RequestType.AUTH, 44, m([[0x23, 'guest'], [0x21, []]]))],
  ['stale schema version', encodeRequestFrame(RequestType.SELECT, 45, m([[0x10, 512], [0x12, 1], [0x20, []]]), 1)],
  ['big sync', encodeRequestFrame(RequestType.PING, 2n ** 64n - 1n, undefined)],
  ['whoami', encodeRequestFrame(RequestType.CALL, 47, m([[0x22, 'whoami'], [0x21, []]]))],
  ['select body is an array', fromHex('820001013090')],
  ['unknown type with an array body', fromHex('820063013190')],
  ['nop', encodeRequestFrame(RequestType.NOP, 50, undefined)],
  ['begin', encodeRequestFrame(RequestType.BEGIN, 51, undefined)],
  ['commit', encodeRequestFrame(RequestType.COMMIT, 52, undefined)],
  ['rollback', encodeRequestFrame(RequestType.ROLLBACK, 53, undefined)],
  ['id', encodeRequestFrame(RequestType.ID, 54, m([[0x54, 3], [0x55, [0, 1]]]))],
  ['invalid type byte in the body', fromHex('8200010137c1')],
  ['truncated body', fromHex('82000101388310cd02')],
  ['select by a missing index', encodeRequestFrame(RequestType.SELECT, 57, m([[0x10, 512], [0x11, 9], [0x12, 1], [0x20, []]]))],
  ['select from a missing space', encodeRequestFrame(RequestType.SELECT, 58, m([[0x10, 999], [0x12, 1], [0x20, []]]))],
];

describe.skipIf(!present)('differential: our server vs a real Tarantool 2.6', () => {
  let reference: TarantoolProcess;
  let ours: RealServer;
  beforeAll(async () => {
    reference = await startTarantool(SCRIPT);
    ours = await startRealServer();
  });
  afterAll(() => {
    reference?.stop();
    ours?.close();
  });

  it('answers every protocol case like Tarantool (type, sync, error message, data)', async () => {
    const frames = CASES.map(([, f]) => f);
    const [theirs, mine] = await Promise.all([exchange(reference.port, frames), exchange(ours.port, frames)]);
    const mismatches: string[] = [];
    CASES.forEach(([name], i) => {
      const a = JSON.stringify(theirs[i], forJson);
      const b = JSON.stringify(mine[i], forJson);
      if (a !== b) mismatches.push(`${name}:\n  tarantool ${a}\n  ours      ${b}`);
    });
    expect(mismatches.join('\n')).toBe('');
  });

  it('agrees with Tarantool on every protocol-level rejection of random and damaged packets', async () => {
    // Only the protocol layer is compared: whenever either side rejects a packet as malformed
    // (INVALID_MSGPACK, UNKNOWN_REQUEST_TYPE, MISSING_REQUEST_FIELD), both must answer the same.
    const frames = fc
      .sample(anyFrame, { numRuns: 4_000, seed: 5 })
      .filter((f) => !EXCLUDED_TYPES.has(headerType(f) ?? -1));
    const [theirs, mine] = await Promise.all([exchange(reference.port, frames), exchange(ours.port, frames)]);
    const protocolCodes = new Set([0x8000 | 20, 0x8000 | 48, 0x8000 | 69]);
    const mismatches: string[] = [];
    let compared = 0;
    let c1Deviations = 0;
    frames.forEach((frame, i) => {
      if (!protocolCodes.has(theirs[i]!.type) && !protocolCodes.has(mine[i]!.type)) return;
      compared++;
      const a = JSON.stringify(theirs[i], forJson);
      const b = JSON.stringify(mine[i], forJson);
      if (a === b) return;
      // The one known difference (documented in core/iproto/request.ts): msgpuck lets the unused
      // byte 0xc1 through inside values, our codec refuses it, so we answer "packet body".
      if (frame.includes(0xc1) && mine[i]!.message === 'Invalid MsgPack - packet body') {
        c1Deviations++;
        return;
      }
      mismatches.push(`${Buffer.from(frame).toString('hex')}:\n  tarantool ${a}\n  ours      ${b}`);
    });
    expect(mismatches.slice(0, 10).join('\n')).toBe('');
    expect(compared).toBeGreaterThan(1_000);
    expect(c1Deviations).toBeLessThan(compared / 50);
    console.log(`differential fuzz: ${frames.length} packets, ${compared} protocol-level rejections compared, ${compared - c1Deviations} equal, ${c1Deviations} 0xc1 deviations`);
  });

  it('our client works against the real server (auth, ping, call, call16, eval, select)', async () => {
    const env = { net: new RealNetwork(), clock: new RealClock() };
    const connected = await IprotoClient.connect(env, `127.0.0.1:${reference.port}`, { user: 'test', password: 'secret' });
    expect(connected.ok).toBe(true);
    const client = connected.ok ? connected.value : null!;
    try {
      expect(client.greeting.version).toBe('2.6.0');
      expect((await client.ping()).ok).toBe(true);
      expect(await client.call('whoami')).toEqual({ ok: true, value: ['test'] });
      expect(await client.call16('multi')).toEqual({ ok: true, value: [[1], [2, 3]] });
      expect(await client.eval('return ...', [1, 'x'])).toEqual({ ok: true, value: [1, 'x'] });
      expect(await client.call('nope')).toEqual({ ok: false, error: { kind: 'server', code: 33, message: "Procedure 'nope' is not defined" } });
      expect(await client.replace(512, [7, 'seven'])).toEqual({ ok: true, value: [[7, 'seven']] });
      expect(await client.select({ spaceId: 512, key: [7] })).toEqual({ ok: true, value: [[7, 'seven']] });
      const bad = await IprotoClient.connect(env, `127.0.0.1:${reference.port}`, { user: 'test', password: 'wrong' });
      expect(bad).toEqual({ ok: false, error: { kind: 'server', code: 47, message: "Incorrect password supplied for user 'test'" } });
    } finally {
      client.close();
    }
  });
});

/**
 * Types the differential fuzz does not send: EVAL/EXECUTE/PREPARE would run random Lua and SQL on
 * the real server; replication requests (JOIN, SUBSCRIBE, VOTE...) and WATCH change or end the
 * real connection's mode.
 */
const EXCLUDED_TYPES = new Set([8, 11, 13, 65, 66, 67, 68, 69, 70, 71, 72, 74, 75, 76, 77]);

/** The request type in a frame's header, when the header is readable far enough. */
function headerType(frame: Uint8Array): number | undefined {
  try {
    const header = new MpReader(frame).value();
    const type = mapGet(header, 0);
    return typeof type === 'number' ? type : undefined;
  } catch {
    return undefined;
  }
}
