/**
 * Protocol fuzzing. Thousands of malformed and random packets: random bytes, structurally valid
 * packets with wrong types in every field, truncated msgpack, garbage after valid requests, huge
 * declared lengths. Every packet must get exactly one reply carrying its sync (or, for broken
 * framing, a closed connection); the server keeps serving other connections; and a request that
 * was answered with an error must not have changed the backend's data. Over real TCP, where
 * frames arrive as ranges of a read and replies are encoded in the connection's output arena,
 * the replies must equal, byte for byte, those of the same packets over a plain connection.
 */

import { connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../core/env/network.ts';
import { IprotoClient } from '../../core/iproto/client.ts';
import { ErrorCode, GREETING_BYTES, RequestType } from '../../core/iproto/constants.ts';
import { decodeReply, isErrorReply, replyError, type Reply } from '../../core/iproto/reply.ts';
import { decodeRequest } from '../../core/iproto/request.ts';
import { encodeRequestFrame } from '../../core/iproto/request-encode.ts';
import { IprotoServer } from '../../core/iproto/server.ts';
import { ServerSession } from '../../core/iproto/session.ts';
import { toHex } from '../../core/lib/bytes.ts';
import { createRealLog } from '../../runtime-real/log.ts';
import { RealClock } from '../../runtime-real/clock.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { DEFAULT_NET_FAULTS } from '../../runtime-sim/network.ts';
import { World } from '../../runtime-sim/world.ts';
import { anyFrame } from './frame-arbitraries.ts';
import { RecordingConnection } from './recording-connection.ts';
import { MemoryBackend, TEST_SPACE_ID } from './memory-backend.ts';
import { startRealServer } from './real-server.ts';

/** Error codes the protocol layer itself may answer a malformed packet with. */
const PROTOCOL_CODES = new Set<number>([
  ErrorCode.INVALID_MSGPACK,
  ErrorCode.UNKNOWN_REQUEST_TYPE,
  ErrorCode.MISSING_REQUEST_FIELD,
  ErrorCode.ILLEGAL_PARAMS, // an iterator code past NEIGHBOR
]);


describe('request decoder fuzzing', () => {
  it('never throws; every failure is a protocol error code', () => {
    let failures = 0;
    fc.assert(
      fc.property(anyFrame, (frame) => {
        const result = decodeRequest(frame);
        if (!result.ok) {
          failures++;
          expect(PROTOCOL_CODES.has(result.error.code)).toBe(true);
        }
      }),
      { numRuns: 20_000, seed: 1 },
    );
    expect(failures).toBeGreaterThan(5_000); // the generators do produce malformed packets
  });
});

describe('server fuzzing on the simulated network', () => {
  it('answers every packet once with its sync, leaves data untouched by rejected requests, keeps serving others', async () => {
    const world = new World({ seed: 11, net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 0.1, latencyMsMean: 0.2 } });
    const [a, b, c] = [world.addHost('a'), world.addHost('b'), world.addHost('c')];
    const backend = new MemoryBackend();
    backend.spaces.get(TEST_SPACE_ID)!.tuples.set('[1000]', [1000, 'canary']);
    a.start(async (env) => {
      await IprotoServer.listen(env, { address: 'a:3301', backend });
    });
    const frames = fc.sample(anyFrame, { numRuns: 5_000, seed: 7 });
    const stats = { replies: 0, errors: 0, ok: 0, unchangedOnError: 0 };
    await world.run(async () => {
      await world.sleep(5);
      const raw = await new Promise<Connection>((resolve) => b.start(async (env) => resolve(await env.net.connect('a:3301', { greetingBytes: GREETING_BYTES }))));
      const good = await new Promise<IprotoClient>((resolve) =>
        c.start(async (env) => {
          const r = await IprotoClient.connect(env, 'a:3301');
          if (r.ok) resolve(r.value);
        }),
      );
      let lastReply: Reply | undefined;
      let replyCount = 0;
      raw.onFrame((frame) => {
        replyCount++;
        lastReply = decodeReply(frame);
      });
      for (const [i, frame] of frames.entries()) {
        const before = backend.snapshot();
        const decoded = decodeRequest(frame);
        raw.send(frame);
        const expectedReplies = replyCount + 1;
        await world.waitFor(() => replyCount >= expectedReplies, 1_000, 0.5);
        expect(replyCount, `packet ${i} got no reply`).toBe(expectedReplies);
        const reply = lastReply!;
        expect(reply, `reply to packet ${i} is malformed`).toBeDefined();
        stats.replies++;
        expect(reply.sync).toEqual(decoded.ok ? decoded.header.sync : decoded.sync);
        if (isErrorReply(reply)) {
          stats.errors++;
          expect(backend.snapshot()).toBe(before);
          stats.unchangedOnError++;
          if (!decoded.ok) expect(replyError(reply)).toEqual({ code: decoded.error.code, message: decoded.error.message });
        } else {
          stats.ok++;
          expect(decoded.ok).toBe(true);
        }
        if (i % 500 === 0) {
          const ping = await good.ping();
          expect(ping.ok).toBe(true);
        }
      }
      expect(raw.isClosed).toBe(false);
      const canary = await good.select({ spaceId: TEST_SPACE_ID, key: [1000] });
      expect(canary.ok && canary.value).toEqual([[1000, 'canary']]);
    }, { eventsMax: 50_000_000, virtualMsMax: 1e9 });
    expect(stats.replies).toBe(frames.length);
    expect(stats.errors).toBeGreaterThan(1_000);
    expect(stats.ok).toBeGreaterThan(500);
    console.log(`sim fuzz: ${JSON.stringify(stats)}`);
  });
});

describe('server fuzzing on real TCP', () => {
  it("answers byte for byte as over a plain connection: frames as ranges of a read, replies in the connection's output arena", async () => {
    const real = await startRealServer();
    real.backend.spaces.get(TEST_SPACE_ID)!.tuples.set('[1000]', [1000, 'canary']);
    const plainBackend = new MemoryBackend();
    plainBackend.spaces.get(TEST_SPACE_ID)!.tuples.set('[1000]', [1000, 'canary']);
    const plain = new RecordingConnection();
    new ServerSession(1, plain, plainBackend, new Uint8Array(20), createRealLog({ level: 'fatal', pretty: false })).start(() => undefined);
    const raw = await new RealNetwork().connect(`127.0.0.1:${real.port}`, { greetingBytes: GREETING_BYTES });
    const replies: string[] = [];
    let waiting: { count: number; resolve: () => void } | null = null;
    raw.onFrame((frame) => {
      replies.push(toHex(frame));
      if (waiting !== null && replies.length >= waiting.count) waiting.resolve();
    });
    try {
      // Batches of packets in one write: the server reads many frames at once and slices them.
      const frames = fc.sample(anyFrame, { numRuns: 3_000, seed: 13 });
      const batchFrames = 40;
      for (let i = 0; i < frames.length; i += batchFrames) {
        const batch = frames.slice(i, i + batchFrames);
        const expected = replies.length + batch.length;
        const all = new Promise<void>((resolve) => (waiting = { count: expected, resolve }));
        for (const frame of batch) {
          raw.send(frame);
          plain.feed(frame);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
        clearTimeout(timer);
        expect(replies.length, `replies to the batch at packet ${i}`).toBe(expected);
      }
      expect(replies).toEqual(plain.sent);
      expect(real.backend.snapshot()).toBe(plainBackend.snapshot());
      expect(raw.isClosed).toBe(false);
    } finally {
      raw.close();
      real.close();
    }
  });
});

describe('framing abuse on real TCP', () => {
  /** Opens a raw socket, skips the greeting, sends `bytes`, and reports how the server reacted. */
  function abuse(port: number, bytes: Uint8Array, waitMs: number): Promise<{ closed: boolean; received: number }> {
    return new Promise((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      let received = 0;
      let closed = false;
      socket.on('data', (chunk) => (received += chunk.length));
      socket.on('error', () => {});
      socket.on('close', () => (closed = true));
      socket.on('connect', () => socket.write(bytes));
      setTimeout(() => {
        socket.destroy();
        resolve({ closed, received });
      }, waitMs);
    });
  }

  it('closes connections with broken framing and keeps serving the others', async () => {
    const real = await startRealServer();
    const clientEnv = { net: new RealNetwork(), clock: new RealClock() };
    const connected = await IprotoClient.connect(clientEnv, `127.0.0.1:${real.port}`);
    expect(connected.ok).toBe(true);
    const good = connected.ok ? connected.value : null!;
    try {
      const ping = encodeRequestFrame(RequestType.PING, 1, undefined);
      const withPrefix = (frame: Uint8Array): number[] => [0xce, 0, 0, 0, frame.length, ...frame];
      const cases: Array<{ name: string; bytes: number[]; closes: boolean }> = [
        { name: 'length is not a msgpack uint', bytes: [0xc1, 1, 2, 3], closes: true },
        { name: 'length is a string', bytes: [0xa3, 0x61, 0x62, 0x63], closes: true },
        { name: 'huge declared length', bytes: [0xce, 0xff, 0xff, 0xff, 0xff, 0x82], closes: true },
        { name: 'uint64 length', bytes: [0xcf, 0xff, 0, 0, 0, 0, 0, 0, 1], closes: true },
        { name: 'valid ping then a bad prefix', bytes: [...withPrefix(ping), 0xc1], closes: true },
        { name: 'truncated frame (server waits for the rest)', bytes: [0xce, 0, 0, 0, 50, 0x82, 0x00], closes: false },
      ];
      for (const c of cases) {
        const result = await abuse(real.port, new Uint8Array(c.bytes), 150);
        expect(result.closed, c.name).toBe(c.closes);
        const check = await good.ping({ timeoutMs: 2_000 });
        expect(check.ok, `server still serves after: ${c.name}`).toBe(true);
      }
      // Random byte streams after the greeting: whatever happens to that connection, others live.
      const streams = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 200, seed: 3 });
      await Promise.all(streams.map((bytes) => abuse(real.port, bytes, 50)));
      const after = await good.call('echo', ['alive'], { timeoutMs: 2_000 });
      expect(after.ok && after.value).toEqual(['alive']);
    } finally {
      good.close();
      real.close();
    }
  });
});
