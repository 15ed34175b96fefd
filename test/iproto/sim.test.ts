/**
 * Client <-> server over the simulated network (runtime-sim World): the same core code the node
 * runs, on virtual time, so timeouts, out-of-order completion and connection loss are exact.
 */

import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import type { Env } from '../../core/env/env.ts';
import { IprotoClient, type ClientError, type IprotoClientOptions, type Result } from '../../core/iproto/client.ts';
import { ErrorCode, RequestType } from '../../core/iproto/constants.ts';
import { IprotoServer } from '../../core/iproto/server.ts';
import { REQUESTS_IN_FLIGHT_MAX } from '../../core/iproto/session.ts';
import { DEFAULT_NET_FAULTS } from '../../runtime-sim/network.ts';
import { World, type SimHost } from '../../runtime-sim/world.ts';
import { MemoryBackend, TEST_SPACE_ID } from './memory-backend.ts';

interface ServerSide {
  readonly backend: MemoryBackend;
  server: IprotoServer | null;
  env: Env | null;
}

function startServer(host: SimHost, setup?: (backend: MemoryBackend, env: Env) => void): ServerSide {
  const side: ServerSide = { backend: new MemoryBackend(), server: null, env: null };
  host.start(async (env) => {
    side.env = env;
    setup?.(side.backend, env);
    side.server = await IprotoServer.listen(env, { address: `${host.name}:3301`, backend: side.backend });
  });
  return side;
}

/** Connects from `host` and hands back the client with its host's env. */
function connect(host: SimHost, target: string, options: IprotoClientOptions = {}): Promise<{ result: Result<IprotoClient>; env: Env }> {
  return new Promise((resolve) => {
    host.start(async (env) => resolve({ result: await IprotoClient.connect(env, `${target}:3301`, options), env }));
  });
}

async function connected(host: SimHost, target: string, options: IprotoClientOptions = {}): Promise<{ client: IprotoClient; env: Env }> {
  const { result, env } = await connect(host, target, options);
  if (!result.ok) throw new Error(`connect failed: ${JSON.stringify(result.error)}`);
  return { client: result.value, env };
}

function value<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`request failed: ${JSON.stringify(result.error)}`);
  return result.value;
}

function error<T>(result: Result<T>): ClientError {
  if (result.ok) throw new Error(`request succeeded: ${JSON.stringify(result.value)}`);
  return result.error;
}

function world(seed: number): World {
  return new World({ seed, net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 1, latencyMsMean: 2 } });
}

async function simulate(w: World, body: () => Promise<void>): Promise<void> {
  await w.run(body, { eventsMax: 5_000_000, virtualMsMax: 1e9 });
}

function sleepFunction(backend: MemoryBackend, env: Env): void {
  backend.functions.set('sleep', async (args) => {
    await env.clock.sleep(args[0] as number);
    return [args[0] as MpValue];
  });
}

describe('iproto client <-> server (simulated network)', () => {
  it('serves data requests, calls, auth and schema checks', async () => {
    const w = world(1);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    const server = startServer(a);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a');
      expect(client.greeting.version).toBe('1.10.15');
      expect(value(await client.ping())).toBeUndefined();
      expect(value(await client.insert(TEST_SPACE_ID, [1, 'one']))).toEqual([[1, 'one']]);
      expect(error(await client.insert(TEST_SPACE_ID, [1, 'again']))).toEqual({
        kind: 'server', code: ErrorCode.TUPLE_FOUND, message: "Duplicate key exists in unique index 'pk' in space 'test'",
      });
      expect(value(await client.replace(TEST_SPACE_ID, [2, 'two']))).toEqual([[2, 'two']]);
      expect(value(await client.select({ spaceId: TEST_SPACE_ID, iterator: 2 }))).toEqual([[1, 'one'], [2, 'two']]);
      expect(value(await client.update(TEST_SPACE_ID, 0, [2], [['=', 1, 'TWO']]))).toEqual([[2, 'TWO']]);
      expect(value(await client.delete(TEST_SPACE_ID, 0, [1]))).toEqual([[1, 'one']]);
      expect(value(await client.delete(TEST_SPACE_ID, 0, [1]))).toEqual([]);
      expect(value(await client.upsert(TEST_SPACE_ID, [3, 0], [['=', 1, 9]]))).toBeUndefined();
      expect(value(await client.call('sum', [1, 2, 3]))).toEqual([6]);
      expect(value(await client.call16('multi'))).toEqual([[1], [2, 3]]);
      expect(value(await client.eval('return ...', [1, 'x']))).toEqual([1, 'x']);
      expect(error(await client.call('nope'))).toEqual({ kind: 'server', code: 33, message: "Procedure 'nope' is not defined" });
      expect(error(await client.call('boom'))).toEqual({ kind: 'server', code: 32, message: 'kaboom' });
      expect(value(await client.call('whoami'))).toEqual(['guest']);
      expect(error(await client.call('private')).kind).toBe('server');
      expect(error(await client.auth('test', 'wrong'))).toEqual({ kind: 'server', code: 47, message: "Incorrect password supplied for user 'test'" });
      expect(error(await client.auth('nobody', 'x'))).toEqual({ kind: 'server', code: 45, message: "User 'nobody' is not found" });
      expect(value(await client.call('whoami'))).toEqual(['guest']); // a failed AUTH keeps the user
      expect(value(await client.auth('test', 'secret'))).toBeUndefined();
      expect(value(await client.call('whoami'))).toEqual(['test']);
      expect(value(await client.call('private'))).toEqual(['secret data']);
      const stale = await client.request(RequestType.PING, undefined);
      expect(value(stale).schemaVersion).toBe(80);
      server.backend.version = 81;
      const ping = await client.request(RequestType.PING, undefined);
      expect(value(ping).schemaVersion).toBe(81);
      client.close();
    });
  });

  it('authenticates at connect time and reports a wrong password', async () => {
    const w = world(2);
    const [a, b, c, d] = [w.addHost('a'), w.addHost('b'), w.addHost('c'), w.addHost('d')];
    startServer(a);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { user: 'test', password: 'secret' });
      expect(value(await client.call('whoami'))).toEqual(['test']);
      const bad = await connect(c, 'a', { user: 'test', password: 'nope' });
      expect(bad.result.ok).toBe(false);
      expect(!bad.result.ok && bad.result.error).toMatchObject({ kind: 'server', code: 47 });
      const refused = await connect(d, 'nowhere');
      expect(!refused.result.ok && refused.result.error.kind).toBe('closed');
    });
  });

  it('pipelines requests and matches replies that complete out of order', async () => {
    const w = world(3);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    startServer(a, sleepFunction);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a');
      const order: string[] = [];
      const track = (name: string, p: Promise<Result<MpValue[]>>): Promise<MpValue[]> =>
        p.then((r) => {
          order.push(name);
          return value(r);
        });
      const startedMs = w.nowMs;
      const results = await Promise.all([
        track('sleep300', client.call('sleep', [300])),
        track('sleep100', client.call('sleep', [100])),
        track('sleep200', client.call('sleep', [200])),
        track('echo', client.call('echo', ['now'])),
      ]);
      expect(results).toEqual([[300], [100], [200], ['now']]);
      expect(order).toEqual(['echo', 'sleep100', 'sleep200', 'sleep300']);
      // Concurrent, not serial: the whole batch takes about the longest sleep.
      expect(w.nowMs - startedMs).toBeLessThan(400);
    });
  });

  it('times a request out, drops its late reply, and keeps the connection usable', async () => {
    const w = world(4);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    startServer(a, sleepFunction);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { requestTimeoutMs: 1_000 });
      const startedMs = w.nowMs;
      expect(error(await client.call('sleep', [5_000], { timeoutMs: 100 }))).toEqual({ kind: 'timeout', timeoutMs: 100 });
      expect(w.nowMs - startedMs).toBe(100);
      expect(error(await client.call('sleep', [5_000]))).toEqual({ kind: 'timeout', timeoutMs: 1_000 });
      expect(value(await client.call('echo', [1]))).toEqual([1]);
      await w.sleep(6_000); // both late replies arrive and are dropped
      expect(client.requestsPending).toBe(0);
      expect(value(await client.ping())).toBeUndefined();
    });
  });

  it('fails every pending request when the connection is lost, and later ones at once', async () => {
    const w = world(5);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    startServer(a, sleepFunction);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { requestTimeoutMs: 60_000 });
      const closes: string[] = [];
      client.onClose((m) => closes.push(m));
      const pending = [client.call('sleep', [1_000]), client.call('sleep', [2_000]), client.call16('sleep', [3_000])];
      await w.sleep(50);
      a.crash('process');
      const results = await Promise.all(pending);
      for (const r of results) expect(error(r).kind).toBe('closed');
      expect(closes).toEqual(['connection lost (remote)']);
      expect(client.isClosed).toBe(true);
      const afterMs = w.nowMs;
      expect(error(await client.ping()).kind).toBe('closed');
      expect(w.nowMs).toBe(afterMs);
    });
  });

  it('a partition makes requests time out, then the broken connection fails the rest', async () => {
    const w = world(6);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    startServer(a);
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { requestTimeoutMs: 500 });
      w.net.partition([[a.id], [b.id]]);
      expect(error(await client.ping())).toEqual({ kind: 'timeout', timeoutMs: 500 });
      const late = client.ping({ timeoutMs: 60_000 });
      expect(error(await late).kind).toBe('closed'); // the reset arrives after brokenDetectMs
    });
  });

  it(`bounds requests in flight per connection at ${REQUESTS_IN_FLIGHT_MAX} and queues the rest in order`, async () => {
    const w = world(7);
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    const release: Array<() => void> = [];
    let started = 0;
    let maxConcurrent = 0;
    let running = 0;
    const server = startServer(a, (backend) => {
      backend.functions.set('block', (args) => {
        started++;
        running++;
        maxConcurrent = Math.max(maxConcurrent, running);
        return new Promise<MpValue[]>((resolve) => release.push(() => {
          running--;
          resolve([args[0] as MpValue]);
        }));
      });
    });
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { requestTimeoutMs: 600_000 });
      const total = REQUESTS_IN_FLIGHT_MAX + 200;
      const calls = Array.from({ length: total }, (_, i) => client.call('block', [i]));
      const pings = [client.ping(), client.ping()]; // queued behind the blocked calls
      await w.sleep(100);
      expect(started).toBe(REQUESTS_IN_FLIGHT_MAX);
      expect(server.backend.closedSessions).toBe(0);
      let pingsDone = 0;
      for (const p of pings) void p.then(() => pingsDone++);
      await w.sleep(100);
      expect(pingsDone).toBe(0);
      while (release.length > 0) {
        release.splice(0).forEach((r) => r());
        await w.sleep(10);
      }
      const results = await Promise.all(calls);
      expect(results.map((r) => value(r)[0])).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(maxConcurrent).toBe(REQUESTS_IN_FLIGHT_MAX);
      for (const p of pings) expect((await p).ok).toBe(true);
    });
  });
});

describe('determinism', () => {
  /** A pipelined, partly failing workload; returns the trace hash and what the client saw. */
  async function run(seed: number): Promise<{ hash: string; seen: string }> {
    const w = new World({ seed, net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 1, latencyMsMean: 20 } });
    const [a, b] = [w.addHost('a'), w.addHost('b')];
    startServer(a, sleepFunction);
    const seen: string[] = [];
    await simulate(w, async () => {
      await w.sleep(10);
      const { client } = await connected(b, 'a', { requestTimeoutMs: 150 });
      const calls = Array.from({ length: 40 }, (_, i) =>
        client.call(i % 3 === 0 ? 'sleep' : i % 3 === 1 ? 'echo' : 'nope', [i * 7]).then((r) => seen.push(`${i}:${JSON.stringify(r)}`)),
      );
      await Promise.all(calls);
    });
    return { hash: w.trace.hashHex(), seen: seen.join('|') };
  }

  it('the same seed gives the same trace hash and the same client-visible results', async () => {
    const first = await run(42);
    const second = await run(42);
    expect(second).toEqual(first);
    const other = await run(43);
    expect(other.hash).not.toBe(first.hash);
    expect(first.seen).toContain('"kind":"timeout"'); // the workload does exercise timeouts
  });
});
