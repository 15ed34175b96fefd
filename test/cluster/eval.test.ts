/**
 * EVAL on an instance (core/node/eval.ts): the API slice of Lua that clients and Picodata's tests
 * send, run against a simulated instance's backend; CALL of box.space methods by name; and `...`
 * in the statement parser.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpFloat64, type MpValue } from '../../core/codec/msgpack.ts';
import { parseChunk, parseStatement, ParseError } from '../../core/api/statement.ts';
import type { IprotoSession } from '../../core/iproto/backend.ts';
import { ErrorCode } from '../../core/iproto/constants.ts';
import { NodeBackend } from '../../core/node/backend.ts';
import { EVAL_EXPRESSION_LENGTH_MAX, luaField, LuaIndexError } from '../../core/node/eval.ts';
import { simulate, startAll } from './helpers.ts';

const GUEST: IprotoSession = { id: 1, user: 'guest', peerAddress: 'test:1' };

describe('parseStatement: ... stands for the EVAL arguments', () => {
  const args: MpValue[] = [1, 'a', true];

  it('expands to all of them in the last position, else to the first', () => {
    expect(parseStatement('return ...', args)).toEqual({ kind: 'values', values: [1, 'a', true] });
    expect(parseStatement('return ...;', args)).toEqual({ kind: 'values', values: [1, 'a', true] });
    expect(parseStatement('return f(...)', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [1, 'a', true] });
    expect(parseStatement('return f(0, ...)', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [0, 1, 'a', true] });
    expect(parseStatement('return f(..., 9)', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [1, 9] });
    expect(parseStatement('return f{...}', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [[1, 'a', true]] });
    expect(parseStatement('return f({..., 9})', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [[1, 9]] });
    expect(parseStatement('return f({x = ...})', args)).toEqual({ kind: 'call', path: ['f'], method: null, args: [{ x: 1 }] });
  });

  it('with no arguments: all of nothing, or nil in a middle position', () => {
    expect(parseStatement('return ...', [])).toEqual({ kind: 'values', values: [] });
    expect(parseStatement('return f(..., 2)', [])).toEqual({ kind: 'call', path: ['f'], method: null, args: [null, 2] });
  });

  it('reads fields after a call', () => {
    expect(parseStatement("return f(1).a['b'][2]")).toEqual({ kind: 'call', path: ['f'], method: null, args: [1], fields: ['a', 'b', '2'] });
    expect(parseStatement('box.space.t:get{1}[2]')).toEqual({ kind: 'call', path: ['box', 'space', 't'], method: 'get', args: [[1]], fields: ['2'] });
    expect(() => parseStatement('f().')).toThrow(ParseError);
  });

  it('luaField indexes tables as Lua does, and refuses scalars, wrapped doubles included', () => {
    expect(luaField([10, 20], '2', 't')).toBe(20);
    expect(luaField([10, 20], 'x', 't')).toBeNull();
    expect(luaField(new Map<MpValue, MpValue>([[1, 'a'], ['k', 'b']]), '1', 't')).toBe('a');
    expect(luaField({ k: 1 }, 'constructor', 't')).toBeNull();
    expect(() => luaField(new MpFloat64(1), 'value', 'x')).toThrow("attempt to index field 'value' of x (a number value)");
    expect(() => luaField(null, 'a', 'x')).toThrow("attempt to index field 'a' of x (a nil value)");
    expect(() => luaField(null, 'a', 'x')).toThrow(LuaIndexError);
  });

  it('takes several expressions only after return, and only in a chunk (EVAL)', () => {
    expect(parseChunk('return 1, f(...), ...', [2, 3])).toEqual({
      returns: true,
      expressions: [{ kind: 'values', values: [1] }, { kind: 'call', path: ['f'], method: null, args: [2, 3] }, { kind: 'values', values: [2, 3] }],
    });
    expect(() => parseChunk('f(), g()', [])).toThrow(ParseError);
    expect(() => parseStatement('return 1, 2')).toThrow(/one expression at a time/);
  });

  it('is refused where there are no arguments (the console)', () => {
    expect(() => parseStatement('return ...')).toThrow(ParseError);
    expect(() => parseStatement('f(...)')).toThrow(/outside a vararg function/);
  });
});

describe('parseStatement on any input (EVAL brings it untrusted text)', () => {
  const VALID = ["return box.space.kv:select({1}, {iterator = 'GE'})", 'return pico.instance_info(...)', "f{1, 'x', [3] = {y = true}}", 'return ...;'];
  const LUA_BITS = fc.constantFrom('return', ' ', '...', '.', ':', ',', ';', '(', ')', '{', '}', '[', ']', '[[', ']]', '=', '==', '"', "'", '\\', '--', '\n', 'box', 'space', 'nil', '0x1F', '-1e9', '12345678901234567890ULL', 'x');

  it('either parses or throws a ParseError, for random text and for mangled valid statements', () => {
    const mangled = fc.tuple(fc.constantFrom(...VALID), fc.nat(), fc.nat(), fc.string({ maxLength: 4 })).map(([text, at, cut, insert]) => {
      const start = at % (text.length + 1);
      return text.slice(0, start) + insert + text.slice(start + (cut % 4));
    });
    const soup = fc.array(LUA_BITS, { maxLength: 24 }).map((bits) => bits.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), mangled, soup), fc.array(fc.integer(), { maxLength: 3 }), (text, args) => {
        try {
          parseStatement(text, args);
        } catch (error) {
          if (!(error instanceof ParseError)) throw error;
        }
      }),
      { numRuns: 5_000, seed: 11 },
    );
  });

  it("reads Lua's escapes, and refuses the ones it cannot store as Lua would", () => {
    expect(parseStatement(String.raw`return 'a\x41\66\0\u{48}\z   b\
c'`)).toEqual({ kind: 'values', values: ['aAB\0Hb\nc'] });
    expect(parseStatement('return -0x10')).toEqual({ kind: 'values', values: [-16] });
    expect(() => parseStatement(String.raw`return '\xff'`)).toThrow(/byte above 0x7f/);
    expect(() => parseStatement(String.raw`return '\q'`)).toThrow("invalid escape sequence '\\q'");
    expect(() => parseStatement(String.raw`return '\x4'`)).toThrow(ParseError);
  });

  it('takes more EVAL arguments than a function call does', () => {
    const args = Array.from({ length: 300_000 }, (_, i) => i);
    const statement = parseStatement('return f(...)', args);
    expect(statement.kind === 'call' && statement.args.length).toBe(300_000);
  });

  it('refuses tables nested past its limit instead of exhausting the stack', () => {
    expect(() => parseStatement(`return ${'{'.repeat(100_000)}`)).toThrow(/nest too deep/);
  });
});

describe('EVAL on an instance', () => {
  it('calls the API with literal and vararg arguments, runs box.space methods, refuses the rest with 32', async () => {
    await simulate(5301, async (cluster) => {
      await startAll(cluster, ['i1']);
      const node = cluster.node('i1')!;
      await node.box.createSpace('kv');
      await node.box.createIndex('kv', 'pk', { parts: [[0, 'unsigned']] });
      await node.box.createIndex('kv', 'by_name', { parts: [[1, 'string']], unique: false });
      const backend = new NodeBackend(node);
      backend.userFunctions.set('sum', (args) => (args as number[]).reduce((a, b) => a + b, 0));
      const run = (expr: string, args: MpValue[] = []): Promise<readonly MpValue[]> => backend.eval({ kind: 'eval', expr, args }, GUEST);

      // The API: literal arguments, `...`, a bare pico value.
      expect(await run('return pico.instance_info("i1")')).toMatchObject([{ instance_id: 'i1', raft_id: 1 }]);
      expect(await run('return pico.instance_info(...)', ['i1'])).toMatchObject([{ instance_id: 'i1' }]);
      expect(await run("return sum(1, 2, ...)", [3, 4])).toEqual([10]);
      expect(await run('return pico.VERSION')).toEqual(await run('return pico.VERSION()'));
      expect(await run('return ...', [1, 'x'])).toEqual([1, 'x']);
      expect(await run("return {1, 'x'}")).toEqual([[1, 'x']]);
      expect(await run("return {k = 'v'}")).toEqual([{ k: 'v' }]);

      // box.space: writes go through the box, reads see them; a miss returns no value, as in Tarantool.
      expect(await run("return box.space.kv:insert{1, 'one'}")).toEqual([[1, 'one']]);
      expect(await run('return box.space.kv:replace(...)', [[2, 'two']])).toEqual([[2, 'two']]);
      expect(await run("return box.space.kv:put({3, 'two'})")).toEqual([[3, 'two']]);
      expect(node.box.space('kv').select([])).toEqual([[1, 'one'], [2, 'two'], [3, 'two']]);
      expect(await run('return box.space.kv:get(2)')).toEqual([[2, 'two']]);
      expect(await run('return box.space.kv:get{99}')).toEqual([]);
      expect(await run("return box.space.kv:select({2}, {iterator = 'GE', limit = 5})")).toEqual([[[2, 'two'], [3, 'two']]]);
      expect(await run("return box.space.kv.index.by_name:select('two')")).toEqual([[[2, 'two'], [3, 'two']]]);
      expect(await run('return box.space.kv.index[1]:count("two")')).toEqual([2]);
      expect(await run('return box.space.kv:len()')).toEqual([3]);
      expect(await run('return box.space.kv.index.pk:max()')).toEqual([[3, 'two']]);
      expect(await run('return box.space.kv.index.pk:max{0}')).toEqual([]);
      // Select options as box takes them: {} (an empty array on the wire), an iterator alone.
      expect(await run('return box.space.kv:select({3}, {})')).toEqual([[[3, 'two']]]);
      expect(await run("return box.space.kv:select({2}, 'GT')")).toEqual([[[3, 'two']]]);
      expect(await run('return box.space.kv:count({}, {limit = 1})')).toEqual([3]);
      await expect(run("return box.space.kv:select({}, {limit = 'x'})")).rejects.toMatchObject({ code: ErrorCode.ILLEGAL_PARAMS });
      expect(await run("return box.space.kv:update(1, {{'=', 2, 'ONE'}})")).toEqual([[1, 'ONE']]);
      expect(await run("return box.space.kv:upsert({4, 'four'}, {{'=', 2, 'x'}})")).toEqual([]);
      expect(await run('return box.space.kv:delete{2}')).toEqual([[2, 'two']]);
      expect(await run('return box.space.kv:delete{2}')).toEqual([]);
      expect(await run("return box.space.kv:update(2, {{'=', 2, 'x'}})")).toEqual([]);
      // return a, b: all but the last give one value (nil for none), the last all of its own.
      expect(await run('return box.space.kv:get{99}, box.space.kv:len(), ...', [7, 8])).toEqual([null, 3, 7, 8]);
      expect(await run('return ..., 9', [7, 8])).toEqual([7, 9]);
      // Fields of a call's first result.
      expect(await run("return pico.instance_info('i1').instance_id, box.space.kv:get{1}[2]")).toEqual(['i1', 'ONE']);
      expect(await run('return box.info().cluster.uuid')).toEqual([node.self()!.replicasetUuid]);
      await expect(run('return box.space.kv:get{99}[1]')).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: "eval: attempt to index field '1' of box.space.kv:get() (a nil value)" });
      // Without 'return' a chunk returns nothing, but its call runs.
      expect(await run("box.space.kv:replace{6, 'six'}")).toEqual([]);
      expect(await run('return box.space.kv:delete{6}')).toEqual([[6, 'six']]);
      expect(node.box.space('kv').select([])).toEqual([[1, 'ONE'], [3, 'two'], [4, 'four']]);

      // CALL resolves box.space methods by name, as Tarantool does.
      const call = (functionName: string, args: MpValue[] = []): Promise<readonly MpValue[]> => backend.call({ kind: 'call', functionName, args }, GUEST);
      expect(await call('box.space.kv:select', [[3], { iterator: 'LE' }])).toEqual([[[3, 'two'], [1, 'ONE']]]);
      expect(await call('box.space.kv.index.pk:get', [4])).toEqual([[4, 'four']]);
      await expect(call('box.space.kv.index.by_name:get', ['four'])).rejects.toThrow("Get() doesn't support partial keys and non-unique indexes");
      expect(await call('box.space.kv:replace', [[5, 'five']])).toEqual([[5, 'five']]);
      expect(await call('box.space.kv:delete', [[5]])).toEqual([[5, 'five']]);
      for (const name of ['box.space.kv:truncate', 'box.space.kv.index.pk:insert', 'box.space.kv', 'box.space.kv:select()', 'box.space:select', 'box.space.kv:delete{1}--', 'box.space.kv :select', 'box.space.nope:select', 'box.space.kv.index.nope:get', `box.space.kv:select${'('.repeat(100_000)}`]) {
        await expect(call(name, [[1]]), name).rejects.toMatchObject({ code: ErrorCode.NO_SUCH_PROC });
      }
      // vshard apps route box methods by name: the storage resolves them like CALL.
      expect(await call('vshard.router.callrw', [1, 'box.space.kv:insert', [[9, 'nine']]])).toEqual([[9, 'nine']]);
      expect(await call('vshard.router.callro', [1, 'box.space.kv:get', [9]])).toEqual([[9, 'nine']]);
      expect(await call('box.space.kv:delete', [9])).toEqual([[9, 'nine']]);

      await expect(call('box.space.kv:insert', [7])).rejects.toMatchObject({ code: 22, message: 'Tuple/Key must be MsgPack array' });
      await expect(run("return box.space.kv:update(1, 'x')")).rejects.toMatchObject({ code: ErrorCode.ILLEGAL_PARAMS });

      // Box errors keep their Tarantool codes.
      await expect(run("return box.space.kv:insert{1, 'again'}")).rejects.toMatchObject({ code: ErrorCode.TUPLE_FOUND });
      // A missing space or index is a nil field to Lua (32), and an unknown function to CALL (33, above).
      await expect(run('return box.space.nope:select()')).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: "eval: attempt to index field 'nope' (a nil value)" });
      await expect(run('return box.space.kv.index.nope:select()')).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: "eval: attempt to index field 'nope' (a nil value)" });
      await expect(run('return box.space[512]:len()')).resolves.toEqual([node.box.space(512).len()]);
      await expect(run('return nope()')).rejects.toMatchObject({ code: ErrorCode.NO_SUCH_PROC });
      await expect(run('return os.exit(1)')).rejects.toMatchObject({ code: ErrorCode.NO_SUCH_PROC });

      // Outside the slice: ER_PROC_LUA, nothing runs.
      for (const expr of ['box.space.kv:truncate()', 'return box.space.kv.index.pk:insert{5}', 'return box.space.kv:min()', 'local x = 1 return x', 'return box.schema', 'return box.space.kv:select{} .. 1', '1', 'return pico.exit', "return '\\xff'"]) {
        await expect(run(expr), expr).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: expect.stringMatching(/^eval: /) });
      }
      const long = `return sum(${'1,'.repeat(EVAL_EXPRESSION_LENGTH_MAX / 2)}1)`;
      await expect(run(long)).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: expect.stringMatching(/more than 65536: pass data as arguments/) });
      expect(await run(`return sum(${'1,'.repeat(EVAL_EXPRESSION_LENGTH_MAX / 2 - 10)}1)`)).toEqual([EVAL_EXPRESSION_LENGTH_MAX / 2 - 9]);
      const unparsable = `return f(${'1,'.repeat(1000)}`;
      await expect(run(unparsable)).rejects.toMatchObject({ message: `eval: unexpected end of input in: ${unparsable.slice(0, 200)}...` });
      expect(node.box.space('kv').len()).toBe(3);
      expect(node.state).not.toBe('exited');
    });
  });
});

describe('box.info and box.cfg (EVAL values, CALL functions)', () => {
  it('describe the instance as Tarantool does, and EVAL indexes into them', async () => {
    await simulate(5302, async (cluster) => {
      await startAll(cluster, ['i1', 'i2'], { initReplicationFactor: 2 });
      for (const name of ['i1', 'i2']) {
        const node = cluster.node(name)!;
        const self = node.self()!;
        const backend = new NodeBackend(node);
        const run = (expr: string): Promise<readonly MpValue[]> => backend.eval({ kind: 'eval', expr, args: [] }, GUEST);
        const master = node.tables.replicaset(self.replicasetId)!.masterId === name;
        const [info] = (await run('return box.info')) as [Record<string, MpValue>];
        const lsn = node.box.committedLsn;
        expect(info).toMatchObject({ ro: !master, uuid: self.instanceUuid, cluster: { uuid: self.replicasetUuid }, status: 'running', lsn, signature: lsn });
        expect(info['version']).toMatch(/^1\.10\.15-picodata-/);
        // The position by raft_id within the replicaset (_cluster numbers members in join order);
        // here the replicaset holds raft ids 1 and 2, so the two coincide.
        expect(info['id']).toBe(node.identity!.raftId);
        // Maps keyed by integer replica ids, as Tarantool sends them.
        expect(info['vclock']).toEqual(new Map([[info['id'], lsn]]));
        expect(info['uptime']).toBeGreaterThanOrEqual(0);
        expect(await backend.call({ kind: 'call', functionName: 'box.info', args: [] }, GUEST)).toEqual([info]);
        expect(await run('return box.info.ro')).toEqual([!master]);
        expect(await run('return box.info.cluster.uuid')).toEqual([self.replicasetUuid]);
        expect(await run(`return box.info.replication[${String(info['id'])}].uuid`)).toEqual([self.instanceUuid]);
        expect(await run('return box.info.no_such_field')).toEqual([null]);
        await expect(run('return box.info.ro.x')).rejects.toMatchObject({ code: ErrorCode.PROC_LUA, message: expect.stringContaining("attempt to index field 'x' of box.info.ro") });
        await expect(run('return box.stat')).rejects.toMatchObject({ code: ErrorCode.PROC_LUA });
        // REFERENCE 2.4: both members replicate from each other, as "guest:@<listen>".
        expect(await run('return box.cfg.listen')).toEqual([`${name}:3301`]);
        const [replication] = (await run('return box.cfg.replication')) as [string[]];
        expect([...replication].sort()).toEqual(['guest:@i1:3301', 'guest:@i2:3301']);
        expect(await run('return box.cfg.read_only')).toEqual([!master]);
        expect(await run('return box.info.ro, box.cfg.listen')).toEqual([!master, `${name}:3301`]);
        expect(await run('return box.cfg.replication[1]')).toEqual([replication[0]]);
        expect(await run('return box.cfg.replication[3]')).toEqual([null]);
        expect(await run('return box.info.__proto__')).toEqual([null]);
      }
    });
  });
});

describe('EVAL of random chunks on an instance', () => {
  it('answers each with values or a coded error, never a crash, and reads change nothing', async () => {
    await simulate(5303, async (cluster) => {
      await startAll(cluster, ['i1']);
      const node = cluster.node('i1')!;
      await node.box.createSpace('kv');
      await node.box.createIndex('kv', 'pk', { parts: [[0, 'unsigned']] });
      for (let i = 1; i <= 5; i++) await node.box.space('kv').replace([i, `v${i}`]);
      const before = node.box.space('kv').select([]);
      const backend = new NodeBackend(node);
      // Well-formed reads with odd targets and arguments, lists of them, and token soup.
      const read = fc
        .tuple(
          fc.constantFrom('box.space.kv', 'box.space.kv.index.pk', 'box.space[512]', 'box.space.nope', 'box.space.kv.index.nope', 'box.space.kv.index[0]'),
          fc.constantFrom(':get', ':select', ':count', ':len', ':min', ':max', ':fselect', ''),
          fc.constantFrom('()', '(1)', '{3}', '(...)', "({}, {iterator = 'GE'})", "(nil, 'LT')", '({1}, {limit = -1})', "('x')", '{1, 2, 3}', ''),
        )
        .map((parts) => parts.join(''));
      const value = fc.constantFrom('box.info', 'box.info.replication[1].uuid', 'box.cfg.listen', 'box.cfg.replication[2]', 'pico.whoami()', 'pico.instance_info(...)', '...', 'pico.VERSION', "{1, 'x', k = 2}", 'box.info.ro.x');
      const expression = fc.oneof(read, value);
      const chunk = fc.tuple(fc.constantFrom('return ', '', 'return  '), fc.array(expression, { minLength: 1, maxLength: 3 })).map(([head, list]) => head + list.join(', '));
      const soup = fc
        .array(fc.constantFrom('return ', 'box.space.kv', ':get', '.index.pk', 'box.info', '[1]', '(', ')', '{', '}', ',', '...', '1', "'i1'", ';', '=', 'x'), { minLength: 1, maxLength: 12 })
        .map((b) => b.join(''));
      const chunks = fc.sample(fc.oneof(chunk, chunk, soup), { numRuns: 3_000, seed: 17 });
      let answered = 0;
      for (const expr of chunks) {
        try {
          const values = await backend.eval({ kind: 'eval', expr, args: [3, 'i1'] }, { id: 1, user: 'guest', peerAddress: 'test:1' });
          expect(Array.isArray(values), expr).toBe(true);
          answered++;
        } catch (error) {
          expect(typeof (error as { code?: unknown }).code, `${expr}: ${String(error)}`).toBe('number');
        }
      }
      expect(answered).toBeGreaterThan(300); // the generators do form valid chunks (474 of 3,000 here)
      expect(node.box.space('kv').select([])).toEqual(before);
      expect(node.state).not.toBe('exited');
    });
  });
});
