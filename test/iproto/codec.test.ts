import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, mapGet, type MpValue } from '../../core/codec/msgpack.ts';
import { fromHex, fromUtf8, toHex } from '../../core/lib/bytes.ts';
import { shapeCall16 } from '../../core/iproto/call16.ts';
import { chapSha1Check, chapSha1PasswordHash, chapSha1Scramble } from '../../core/lib/chap-sha1.ts';
import { BodyKey, ErrorCode, RequestType } from '../../core/iproto/constants.ts';
import { iprotoError, IprotoError, toIprotoError } from '../../core/iproto/errors.ts';
import { buildGreeting, parseGreeting } from '../../core/iproto/greeting.ts';
import { decodeReply, replyError } from '../../core/iproto/reply.ts';
import { decodeRequest, type DecodedRequest } from '../../core/iproto/request.ts';
import { encodeAuthFrame, encodeRequestFrame } from '../../core/iproto/request-encode.ts';
import { writeDataReply, writeErrorReply, writeExecuteReply, writeOkReply } from '../../core/iproto/response.ts';
import { sharedReply } from './shared-reply.ts';

const UUID = '746296b6-b3d1-41f9-a46c-76f783a5777c';
const SALT = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The chap-sha1 scramble computed independently of core/ (node:crypto, Buffer). */
function referenceScramble(salt: Uint8Array, password: string): Buffer {
  const h1 = sha1(Buffer.from(password));
  const h2 = sha1(h1);
  const mask = sha1(salt.subarray(0, 20), h2);
  return Buffer.from(h1.map((b, i) => b ^ mask[i]!));
}

function frame(type: number, body: Map<number, MpValue> | undefined, sync = 7): Uint8Array {
  return encodeRequestFrame(type, sync, body);
}

function decodedError(result: DecodedRequest): { code: number; message: string; sync: number | bigint } {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  return { code: result.error.code, message: result.error.message, sync: result.sync };
}

describe('greeting', () => {
  it('has Tarantool\'s exact 128-byte layout', () => {
    const g = buildGreeting('1.10.15', UUID, SALT);
    expect(g.length).toBe(128);
    const text = fromUtf8(g);
    expect(text.slice(0, 64)).toBe(`Tarantool 1.10.15 (Binary) ${UUID}`.padEnd(63, ' ') + '\n');
    expect(text.slice(64, 108)).toBe(Buffer.from(SALT).toString('base64'));
    expect(text.slice(108, 127)).toBe(' '.repeat(19));
    expect(text[127]).toBe('\n');
  });

  it('parses its own and a real Tarantool 2.6 greeting', () => {
    const ours = parseGreeting(buildGreeting('1.10.15', UUID, SALT));
    expect(ours).toEqual({ version: '1.10.15', protocol: 'Binary', uuid: UUID, salt: SALT });
    const real = `Tarantool 2.6.0 (Binary) ${UUID}  \nvQoCjoLr8JuD7KrcTsA9o4QxIVduvlTf7EsznoZO7tM=                   \n`;
    const parsed = parseGreeting(new TextEncoder().encode(real));
    expect(parsed?.version).toBe('2.6.0');
    expect(Buffer.from(parsed!.salt).toString('base64')).toBe('vQoCjoLr8JuD7KrcTsA9o4QxIVduvlTf7EsznoZO7tM=');
  });

  it('rejects non-greetings', () => {
    expect(parseGreeting(new Uint8Array(128))).toBeUndefined();
    expect(parseGreeting(buildGreeting('1.10.15', UUID, SALT).subarray(0, 127))).toBeUndefined();
    const console = new TextEncoder().encode('Tarantool 1.10.15 (Lua console)'.padEnd(63) + '\n' + ' '.repeat(63) + '\n');
    expect(parseGreeting(console)).toBeUndefined(); // no salt: unusable for iproto
  });
});

describe('chap-sha1', () => {
  it('scrambles exactly like an independent implementation', () => {
    for (const password of ['', 'secret', 'пароль', 'x'.repeat(300)]) {
      expect(Buffer.from(chapSha1Scramble(SALT, password))).toEqual(referenceScramble(SALT, password));
    }
  });

  it('stores base64(sha1(sha1(password))) and accepts only the right scramble', () => {
    const stored = chapSha1PasswordHash('secret');
    expect(stored).toBe(sha1(sha1(Buffer.from('secret'))).toString('base64'));
    expect(stored.length).toBe(28);
    expect(chapSha1Check(SALT, referenceScramble(SALT, 'secret'), stored)).toBe(true);
    expect(chapSha1Check(SALT, referenceScramble(SALT, 'Secret'), stored)).toBe(false);
    const otherSalt = SALT.map((b) => b ^ 1);
    expect(chapSha1Check(otherSalt, referenceScramble(SALT, 'secret'), stored)).toBe(false);
    expect(chapSha1Check(SALT, new Uint8Array(19), stored)).toBe(false);
    expect(chapSha1Check(SALT, referenceScramble(SALT, 'secret'), 'not base64!')).toBe(false);
  });
});

describe('request decoding', () => {
  it('decodes every request type into its typed form', () => {
    const select = decodeRequest(frame(RequestType.SELECT, new Map<number, MpValue>([[0x10, 512], [0x11, 1], [0x12, 10], [0x13, 2], [0x14, 5], [0x20, [3]]])));
    expect(select).toEqual({
      ok: true,
      header: { type: 1, sync: 7, schemaVersion: 0, streamId: 0 },
      request: { kind: 'select', spaceId: 512, indexId: 1, limit: 10, offset: 2, iterator: 5, key: [3] },
    });
    const cases: Array<[number, Map<number, MpValue>, object]> = [
      [RequestType.INSERT, new Map<number, MpValue>([[0x10, 512], [0x21, [1, 'a']]]), { kind: 'insert', spaceId: 512, tuple: [1, 'a'] }],
      [RequestType.REPLACE, new Map<number, MpValue>([[0x10, 512], [0x21, [1]]]), { kind: 'replace', spaceId: 512, tuple: [1] }],
      [RequestType.UPDATE, new Map<number, MpValue>([[0x10, 512], [0x20, [1]], [0x21, [['=', 1, 'b']]], [0x15, 1]]),
        { kind: 'update', spaceId: 512, indexId: 0, key: [1], ops: [['=', 1, 'b']], indexBase: 1 }],
      [RequestType.DELETE, new Map<number, MpValue>([[0x10, 512], [0x11, 2], [0x20, [1]]]), { kind: 'delete', spaceId: 512, indexId: 2, key: [1] }],
      [RequestType.UPSERT, new Map<number, MpValue>([[0x10, 512], [0x21, [1, 0]], [0x28, [['+', 1, 1]]]]),
        { kind: 'upsert', spaceId: 512, tuple: [1, 0], ops: [['+', 1, 1]], indexBase: 0 }],
      [RequestType.CALL, new Map<number, MpValue>([[0x22, 'f'], [0x21, [1, 2]]]), { kind: 'call', functionName: 'f', args: [1, 2] }],
      [RequestType.CALL_16, new Map<number, MpValue>([[0x22, 'f']]), { kind: 'call16', functionName: 'f', args: [] }],
      [RequestType.EVAL, new Map<number, MpValue>([[0x27, 'return ...'], [0x21, ['x']]]), { kind: 'eval', expr: 'return ...', args: ['x'] }],
      [RequestType.EXECUTE, new Map<number, MpValue>([[0x40, 'SELECT 1'], [0x41, [5]]]), { kind: 'execute', sqlText: 'SELECT 1', stmtId: undefined, bind: [5] }],
      [RequestType.ID, new Map<number, MpValue>([[0x54, 3], [0x55, [0, 1]]]), { kind: 'id' }],
    ];
    for (const [type, body, expected] of cases) {
      const result = decodeRequest(frame(type, body));
      expect(result.ok ? result.request : result.error.message).toEqual(expected);
    }
    for (const [type, kind] of [[64, 'ping'], [12, 'nop'], [14, 'begin'], [15, 'commit'], [16, 'rollback']] as const) {
      const result = decodeRequest(frame(type, undefined));
      expect(result.ok && result.request).toEqual({ kind });
    }
  });

  it('reads the AUTH scramble as raw bytes, not UTF-8', () => {
    const scramble = Uint8Array.from({ length: 20 }, (_, i) => 0xe0 + i); // invalid UTF-8
    const result = decodeRequest(encodeAuthFrame(3, 'bob', scramble));
    expect(toHex(encodeAuthFrame(3, 'bob', scramble))).toBe('8200070103' + '82' + '23a3626f62' + '2192a9636861702d73686131' + 'b4' + toHex(scramble));
    expect(result.ok && result.request).toEqual({ kind: 'auth', user: 'bob', partCount: 2, mechanism: 'chap-sha1', scramble });
  });

  it('names the first missing mandatory field the way Tarantool does', () => {
    const missing = (type: number, body: Map<number, MpValue> | undefined): string => decodedError(decodeRequest(frame(type, body))).message;
    expect(missing(RequestType.SELECT, undefined)).toBe("Missing mandatory field 'space id' in request");
    expect(missing(RequestType.SELECT, new Map([[0x10, 1]]))).toBe("Missing mandatory field 'limit' in request");
    expect(missing(RequestType.SELECT, new Map([[0x10, 1], [0x12, 1]]))).toBe("Missing mandatory field 'key' in request");
    expect(missing(RequestType.INSERT, new Map([[0x10, 1]]))).toBe("Missing mandatory field 'tuple' in request");
    expect(missing(RequestType.UPDATE, new Map<number, MpValue>([[0x10, 1], [0x21, []]]))).toBe("Missing mandatory field 'key' in request");
    expect(missing(RequestType.DELETE, new Map<number, MpValue>([[0x20, []]]))).toBe("Missing mandatory field 'space id' in request");
    expect(missing(RequestType.UPSERT, new Map<number, MpValue>([[0x10, 1], [0x21, []]]))).toBe("Missing mandatory field 'operations' in request");
    expect(missing(RequestType.CALL, new Map<number, MpValue>([[0x21, []]]))).toBe("Missing mandatory field 'function name' in request");
    expect(missing(RequestType.EVAL, new Map<number, MpValue>([[0x21, []]]))).toBe("Missing mandatory field 'expression' in request");
    expect(missing(RequestType.AUTH, new Map<number, MpValue>([[0x21, []]]))).toBe("Missing mandatory field 'user name' in request");
    expect(missing(RequestType.AUTH, new Map<number, MpValue>([[0x23, 'bob']]))).toBe("Missing mandatory field 'tuple' in request");
    expect(missing(RequestType.EXECUTE, new Map<number, MpValue>([[0x41, []]]))).toBe("Missing mandatory field 'SQL text or stmt id' in request");
    const error = decodedError(decodeRequest(frame(RequestType.SELECT, undefined, 42)));
    expect(error.code).toBe(ErrorCode.MISSING_REQUEST_FIELD);
    expect(error.sync).toBe(42);
  });

  it('rejects ill-typed fields with INVALID_MSGPACK "packet body"', () => {
    const bad: Array<[number, Map<number, MpValue>]> = [
      [RequestType.SELECT, new Map<number, MpValue>([[0x10, -1], [0x12, 1], [0x20, []]])], // negative space id
      [RequestType.SELECT, new Map<number, MpValue>([[0x10, 'test'], [0x12, 1], [0x20, []]])],
      [RequestType.SELECT, new Map<number, MpValue>([[0x10, 1], [0x12, 1], [0x20, 5]])], // key not an array
      [RequestType.INSERT, new Map<number, MpValue>([[0x10, 1], [0x21, { a: 1 }]])],
      [RequestType.CALL, new Map<number, MpValue>([[0x22, 5]])],
      [RequestType.EVAL, new Map<number, MpValue>([[0x27, ['x']]])],
      [RequestType.AUTH, new Map<number, MpValue>([[0x23, 'bob'], [0x21, 'x']])],
    ];
    for (const [type, body] of bad) {
      const error = decodedError(decodeRequest(frame(type, body, 9)));
      expect([error.code, error.message, error.sync]).toEqual([ErrorCode.INVALID_MSGPACK, 'Invalid MsgPack - packet body', 9]);
    }
    // A float where an MP_UINT is required is refused although it decodes to an integral number.
    const floatSpace = fromHex('82000101098310cb3ff00000000000001201209' + '0');
    expect(decodedError(decodeRequest(floatSpace)).message).toBe('Invalid MsgPack - packet body');
  });

  it('validates the packet structure and echoes the sync once it was read', () => {
    const cases: Array<[string, string, number]> = [
      ['', 'Invalid MsgPack - packet header', 0], // empty frame
      ['90', 'Invalid MsgPack - packet header', 0], // header is not a map
      ['820105a16101', 'Invalid MsgPack - packet header', 5], // string key after the sync
      ['82a16101', 'Invalid MsgPack - packet header', 0], // truncated
      ['82000101a178', 'Invalid MsgPack - packet header', 0], // sync is a string
      ['820001010690', 'Invalid MsgPack - packet body', 6], // a SELECT body that is an array
      ['82004001068081', 'Invalid MsgPack - packet body', 6], // garbage after the body
      ['8200010106c1', 'Invalid MsgPack - packet body', 6], // a SELECT body that is not a map
      ['82000101068110c1', 'Invalid MsgPack - packet body', 6], // 0xc1 is an ext to msgpuck, not a uint
      ['8200400106dc0001', 'Invalid MsgPack - packet body', 6], // truncated array
      ['8200630103', 'Unknown request type 99', 3],
      ['810101', 'Unknown request type 0', 1], // no type at all
      ['820063010190', 'Unknown request type 99', 1], // unknown type wins over a bad body
    ];
    for (const [hex, message, sync] of cases) {
      const error = decodedError(decodeRequest(fromHex(hex)));
      expect([error.message, error.sync]).toEqual([message, sync]);
    }
  });

  it('never reads a PING body, as Tarantool does (but it must still be one valid value)', () => {
    const ping = decodeRequest(fromHex('820040010690'));
    expect(ping.ok && ping.request).toEqual({ kind: 'ping' });
  });

  it('skips non-integer body keys and unknown keys, and reads the header schema version and a uint64 sync', () => {
    const body = fromHex('83' + 'a178' + '01' + '7f' + '05' + '10' + '05');
    const result = decodeRequest(new Uint8Array([...fromHex('83000501cfffffffffffffffff0503'), ...body]));
    expect(result.ok).toBe(false); // a DELETE without a key: proves the body was read past the skipped keys
    expect(decodedError(result).sync).toBe(2n ** 64n - 1n);
    const ping = decodeRequest(fromHex('83004001010505'));
    expect(ping.ok && ping.header.schemaVersion).toBe(5);
  });

  it('refuses unknown iterators', () => {
    const error = decodedError(decodeRequest(frame(RequestType.SELECT, new Map<number, MpValue>([[0x10, 1], [0x12, 1], [0x14, 12], [0x20, []]]))));
    // As Tarantool 2.6 answers it (test/real/box-differential.test.ts): box_select's check.
    expect([error.code, error.message]).toEqual([ErrorCode.ILLEGAL_PARAMS, 'Illegal parameters, Invalid iterator type']);
  });
});

describe('response encoding', () => {
  it('writes the 28-byte header exactly (after the transport\'s ce+u32 prefix)', () => {
    expect(toHex(sharedReply((w) => writeOkReply(w, 5, 80)))).toBe('8300ce0000000001cf000000000000000505ce0000005080');
    expect(toHex(sharedReply((w) => writeOkReply(w, 2n ** 64n - 1n, 1))).slice(0, 46)).toBe('8300ce0000000001cfffffffffffffffff05ce00000001');
    // Byte-identical to what Tarantool 2.6 sent for a CALL_16 of `return 1` (sync 2, schema 80).
    expect(toHex(sharedReply((w) => writeDataReply(w, 2, 80, [[1]])))).toBe('8300ce0000000001cf000000000000000205ce000000508130dd000000019101');
  });

  it('encodes error replies with both the 1.10 message and the 2.4+ stack', () => {
    const reply = sharedReply((w) => writeErrorReply(w, 1, 80, iprotoError(ErrorCode.NO_SUCH_PROC, 'nope')));
    expect(toHex(reply.subarray(0, 23))).toBe('8300ce0000802101cf000000000000000105ce00000050');
    const decoded = decodeReply(reply)!;
    expect(decoded.type).toBe(0x8021);
    expect(mapGet(decoded.body, 0x31)).toBe("Procedure 'nope' is not defined");
    const stack = mapGet(mapGet(decoded.body, 0x52), 0) as MpValue[];
    expect(stack.length).toBe(1);
    expect([0, 3, 5].map((k) => mapGet(stack[0], k))).toEqual(['ClientError', "Procedure 'nope' is not defined", 33]);
    expect(replyError(decoded)).toEqual({ code: 33, message: "Procedure 'nope' is not defined" });
  });

  it('encodes EXECUTE row sets and change counts', () => {
    const rows = decodeReply(sharedReply((w) => writeExecuteReply(w, 1, 1, { kind: 'rows', metadata: [{ name: 'ID', type: 'integer' }], rows: [[1], [2]] })))!;
    expect(decode(sharedReply((w) => writeExecuteReply(w, 1, 1, { kind: 'changed', rowCount: 3 })).subarray(23))).toEqual(new Map([[0x42, new Map([[0, 3]])]]));
    expect(mapGet(rows.body, BodyKey.DATA)).toEqual([[1], [2]]);
    expect(mapGet(rows.body, BodyKey.METADATA)).toEqual([new Map<number, MpValue>([[0, 'ID'], [1, 'integer']])]);
  });
});

describe('CALL_16 shaping (REFERENCE 4.2, checked against Tarantool 2.6)', () => {
  const table: Array<[string, MpValue[], MpValue[]]> = [
    ['return 1', [1], [[1]]],
    ['return {1, 2}', [[1, 2]], [[1, 2]]],
    ['return {{1}, {2}}', [[[1], [2]]], [[1], [2]]],
    ['return 1, {2, 3}', [1, [2, 3]], [[1], [2, 3]]],
    ['return {}', [[]], [[]]],
    ['return', [], []],
    ['return {{1}, 5}', [[[1], 5]], [[1], [5]]],
    ["return 'a', 'b'", ['a', 'b'], [['a'], ['b']]],
  ];
  for (const [lua, values, shaped] of table) {
    it(lua, () => expect(shapeCall16(values)).toEqual(shaped));
  }
});

describe('errors', () => {
  it('formats Tarantool messages', () => {
    expect(iprotoError(ErrorCode.ACCESS_DENIED, 'Execute', 'function', 'f', 'guest').message).toBe(
      "Execute access to function 'f' is denied for user 'guest'",
    );
    expect(iprotoError(ErrorCode.WRONG_SCHEMA_VERSION, 1, 80).message).toBe('Wrong schema version, current: 1, in request: 80');
    expect(iprotoError(ErrorCode.PASSWORD_MISMATCH, 'bob').message).toBe("Incorrect password supplied for user 'bob'");
  });

  it('keeps a thrown code and message, turns anything else into PROC_LUA', () => {
    expect(toIprotoError({ code: 36, message: "Space 'x' does not exist" })).toMatchObject({ code: 36, message: "Space 'x' does not exist" });
    expect(toIprotoError(new Error('kaboom'))).toMatchObject({ code: ErrorCode.PROC_LUA, message: 'kaboom' });
    expect(toIprotoError('plain')).toMatchObject({ code: ErrorCode.PROC_LUA, message: 'plain' });
    expect(toIprotoError(Object.assign(new Error('net'), { code: 'ECONNRESET' }))).toMatchObject({ code: 32 });
    expect(toIprotoError(new IprotoError(7, 'ro'))).toMatchObject({ code: 7 });
  });
});
