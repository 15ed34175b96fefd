/**
 * RealNetwork framing on real TCP: frames split at every possible byte boundary, a large frame
 * arriving in many reads, every msgpack uint length form, coalesced output (many sends in one
 * event-loop iteration leave in a few writes, each frame prefixed `ce` + u32; the flush waits one
 * iteration, so replies to a request read in the next one share the write, and a few more while
 * the peer keeps sending), frames sent just
 * before close() still delivered, input delivered in slices (in order, across reads, before
 * the close that follows them), frames handed to a range handler as ranges of the read, and
 * frames committed in place in the output arena kept in order with frames given to `send`.
 */

import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Listener } from '../../core/env/network.ts';
import { RealNetwork } from '../../runtime-real/network.ts';

const net = new RealNetwork();
let listener: Listener | null = null;
const sockets: Socket[] = [];

afterEach(() => {
  listener?.close();
  listener = null;
  for (const s of sockets.splice(0)) s.destroy();
});

/** Listens; returns the port and a promise of the first accepted connection. */
async function serve(): Promise<{ port: number; accepted: Promise<Connection> }> {
  let accept!: (c: Connection) => void;
  const accepted = new Promise<Connection>((resolve) => (accept = resolve));
  listener = await net.listen('127.0.0.1:0', accept);
  return { port: Number(listener.address.split(':')[1]), accepted };
}

function rawClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(socket));
    sockets.push(socket);
  });
}

/**
 * A raw client connected to a fresh listener, the server side of its connection, and the chunks
 * the client receives.
 */
async function connectedPair(): Promise<{ client: Socket; server: Connection; chunks: Buffer[] }> {
  const { port, accepted } = await serve();
  const client = await rawClient(port);
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  return { client, server: await accepted, chunks };
}

function frames(connection: Connection, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) =>
    connection.onFrame((frame) => {
      got.push(Uint8Array.from(frame));
      if (got.length === count) resolve(got);
    }),
  );
}

function prefixed(payload: Uint8Array, form: 'fix' | 'cc' | 'cd' | 'ce' | 'cf'): Buffer {
  const n = payload.length;
  const prefix =
    form === 'fix' ? [n] : form === 'cc' ? [0xcc, n] : form === 'cd' ? [0xcd, n >> 8, n & 0xff] : form === 'ce' ? [0xce, 0, 0, n >> 8, n & 0xff] : [0xcf, 0, 0, 0, 0, 0, 0, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(prefix), Buffer.from(payload)]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('RealNetwork framing', () => {
  it('reassembles frames split at every byte boundary, in every length form', async () => {
    const { client, server } = await connectedPair();
    const payloads = (['fix', 'cc', 'cd', 'ce', 'cf'] as const).map((form, i) => ({ form, payload: Uint8Array.from({ length: 20 + i }, (_, j) => (j * 7 + i) & 0xff) }));
    const stream = Buffer.concat(payloads.map(({ form, payload }) => prefixed(payload, form)));
    const received = frames(server, payloads.length * (stream.length - 1));
    for (let cut = 1; cut < stream.length; cut++) {
      client.write(stream.subarray(0, cut));
      await sleep(1);
      client.write(stream.subarray(cut));
    }
    const got = await received;
    for (let k = 0; k < got.length; k++) expect(got[k]).toEqual(payloads[k % payloads.length]!.payload);
  });

  it('takes a 3 MiB frame arriving in many reads, and frames around it', async () => {
    const { client, server } = await connectedPair();
    const big = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, i) => i & 0xff);
    const received = frames(server, 3);
    client.write(prefixed(Uint8Array.of(1), 'fix'));
    const packet = prefixed(big, 'ce');
    packet.writeUInt32BE(big.length, 1);
    for (let at = 0; at < packet.length; at += 100_000) client.write(packet.subarray(at, at + 100_000));
    client.write(prefixed(Uint8Array.of(2), 'fix'));
    const [first, middle, last] = await received;
    expect(first).toEqual(Uint8Array.of(1));
    expect(middle!.length).toBe(big.length);
    expect(Buffer.compare(middle!, big)).toBe(0);
    expect(last).toEqual(Uint8Array.of(2));
  });

  it('coalesces the frames sent in one iteration into a few writes, each frame prefixed ce + u32', async () => {
    const { client, server, chunks } = await connectedPair();
    for (let i = 0; i < 100; i++) server.send(Uint8Array.of(i, i));
    await sleep(50);
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(100 * 7);
    for (let i = 0; i < 100; i++) {
      expect(all[i * 7]).toBe(0xce);
      expect(all.readUInt32BE(i * 7 + 1)).toBe(2);
      expect([all[i * 7 + 5], all[i * 7 + 6]]).toEqual([i, i]);
    }
    // Flushed every 8 frames (so a waiting client gets the first replies early), not per frame.
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(100 / 8));
  });

  it('flushes one iteration late: replies to a request read in the next iteration leave in the same write', async () => {
    const { client, server, chunks } = await connectedPair();
    let requests = 0;
    server.onFrame(() => {
      requests++;
      for (let i = 0; i < 3; i++) server.send(Uint8Array.of(requests, i));
      // The second request goes out after this iteration's flush would have run, and is read by
      // the next iteration's poll.
      if (requests === 1) setImmediate(() => client.write(prefixed(Uint8Array.of(2), 'fix')));
    });
    client.write(prefixed(Uint8Array.of(1), 'fix'));
    await sleep(50);
    expect(Buffer.concat(chunks).length).toBe(6 * 7);
    expect(chunks.length).toBe(1);
  });

  it('keeps a busy connection\'s replies back for a few iterations only', async () => {
    const { client, server, chunks } = await connectedPair();
    server.onFrame((frame) => server.send(frame));
    // The client sends one request per iteration, 50 in all; the first reply must not wait for
    // the stream to end.
    let sent = 0;
    let sentAtFirstReply = 0;
    client.once('data', () => (sentAtFirstReply = sent));
    const sendNext = (): void => {
      client.write(prefixed(Uint8Array.of(sent++), 'fix'));
      if (sent < 50) setImmediate(sendNext);
    };
    sendNext();
    await sleep(100);
    expect(Buffer.concat(chunks).length).toBe(50 * 6);
    // Held back while requests kept coming (8 here; flushing one iteration late gives 4, in the
    // producing iteration 3), but not until the stream ends or 32 replies pile up (33).
    expect(sentAtFirstReply).toBeGreaterThan(5);
    expect(sentAtFirstReply).toBeLessThan(12);
  });

  it('delivers frames sent right before close()', async () => {
    const { client, server, chunks } = await connectedPair();
    const ended = new Promise<void>((resolve) => client.on('end', resolve));
    server.send(Uint8Array.of(42));
    server.close();
    await ended;
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([0xce, 0, 0, 0, 1, 42]));
  });

  it('delivers a read of many frames in slices across iterations (8 first, then 32), in order, and reads behind it after it', async () => {
    const { client, server } = await connectedPair();
    const count = 400;
    const got: number[] = [];
    // The event-loop iteration each frame was delivered in: a tick that re-queues itself.
    let iteration = 0;
    const iterationOf: number[] = [];
    const tick = (): void => {
      iteration++;
      if (got.length < count) setImmediate(tick);
    };
    const all = new Promise<void>((resolve) =>
      server.onFrame((frame) => {
        if (got.length === 0) setImmediate(tick);
        iterationOf.push(iteration);
        got.push(frame[0]! * 256 + frame[1]!);
        if (got.length === count) resolve();
      }),
    );
    const payload = (i: number): Buffer => prefixed(Uint8Array.of(i >> 8, i & 0xff), 'fix');
    client.write(Buffer.concat(Array.from({ length: count / 2 }, (_, i) => payload(i))));
    client.write(Buffer.concat(Array.from({ length: count / 2 }, (_, i) => payload(count / 2 + i))));
    await all;
    expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
    const framesPerIteration: number[] = [];
    iterationOf.forEach((n, i) => {
      if (i > 0 && n === iterationOf[i - 1]) framesPerIteration[framesPerIteration.length - 1]!++;
      else framesPerIteration.push(1);
    });
    // The first slice of a read is short (its replies reach a waiting client early); no slice exceeds 32.
    expect(framesPerIteration[0]).toBe(8);
    expect(framesPerIteration[1]).toBe(32);
    expect(Math.max(...framesPerIteration)).toBe(32);
  });

  it('reports a close only after every frame that arrived before it', async () => {
    const { client, server } = await connectedPair();
    let delivered = 0;
    server.onFrame(() => delivered++);
    const closedAfter = new Promise<number>((resolve) => server.onClose(() => resolve(delivered)));
    client.end(Buffer.concat(Array.from({ length: 1000 }, () => prefixed(Uint8Array.of(7), 'fix'))));
    expect(await closedAfter).toBe(1000);
  });

  it('closes the connection on a length that is not a msgpack uint', async () => {
    const { client, server } = await connectedPair();
    const closed = new Promise<string>((resolve) => server.onClose((reason) => resolve(reason.kind === 'protocol' ? reason.message : reason.kind)));
    client.write(Buffer.from([0xa1, 0x41]));
    expect(await closed).toBe('packet length is not a msgpack uint');
  });
  it('hands a range handler the same frames, in order, as ranges of the read', async () => {
    const { client, server } = await connectedPair();
    const count = 100;
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      server.onFrameRange!((bytes, start, end) => {
        expect(bytes.constructor).toBe(Uint8Array); // not a Buffer: one array kind for the decoder
        got.push(Buffer.from(bytes.subarray(start, end)).toString('hex'));
        if (got.length === count) resolve();
      }),
    );
    const payloads = Array.from({ length: count }, (_, i) => Uint8Array.from({ length: 1 + (i % 5) }, (_, j) => i + j));
    // Split mid-frame: the range handler also gets the frames reassembled across reads.
    const stream = Buffer.concat(payloads.map((p, i) => prefixed(p, i % 2 === 0 ? 'fix' : 'ce')));
    client.write(stream.subarray(0, 101));
    await sleep(10);
    client.write(stream.subarray(101));
    await all;
    expect(got).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
  });

  it('sends frames committed in place in its output arena in order with frames given to send', async () => {
    const { client, server, chunks } = await connectedPair();
    const output = server.output!;
    for (let i = 0; i < 50; i++) {
      if (i % 3 === 0) {
        server.send(Uint8Array.of(i));
      } else {
        output.begin();
        output.u8(i);
        output.commit();
      }
    }
    await sleep(50);
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(50 * 6);
    for (let i = 0; i < 50; i++) expect([...all.subarray(i * 6, i * 6 + 6)]).toEqual([0xce, 0, 0, 0, 1, i]);
  });

  it('sends a 3 MiB frame written in place, and the frames around it, intact and in order', async () => {
    const { client, server, chunks } = await connectedPair();
    const output = server.output!;
    const big = 3 * 1024 * 1024;
    server.send(Uint8Array.of(1));
    output.begin();
    for (let i = 0; i < big; i++) output.u8(i & 0x7f);
    output.commit();
    server.send(Uint8Array.of(2));
    output.begin();
    output.u8(3);
    output.commit();
    const total = 3 * 6 + 5 + big;
    for (let waited = 0; Buffer.concat(chunks).length < total && waited < 5_000; waited += 10) await sleep(10);
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(total);
    expect([...all.subarray(0, 6)]).toEqual([0xce, 0, 0, 0, 1, 1]);
    expect(all.readUInt32BE(7)).toBe(big);
    const payload = all.subarray(11, 11 + big);
    expect(payload.every((byte, i) => byte === (i & 0x7f))).toBe(true);
    expect([...all.subarray(11 + big)]).toEqual([0xce, 0, 0, 0, 1, 2, 0xce, 0, 0, 0, 1, 3]);
    // The buffer grown for the big frame was let go once the frames were written.
    expect(output.capacityBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('cuts off a peer that does not read once its queued output passes the limit', async () => {
    const limited = new RealNetwork({ outputQueuedBytesMax: 1024 * 1024 });
    let accept!: (c: Connection) => void;
    const accepted = new Promise<Connection>((resolve) => (accept = resolve));
    listener = await limited.listen('127.0.0.1:0', accept);
    const client = await rawClient(Number(listener.address.split(':')[1]));
    client.pause(); // reads nothing: the kernel's buffers fill, then Node's queue
    const server = await accepted;
    const closed = new Promise<string>((resolve) => server.onClose((reason) => resolve(reason.kind === 'protocol' ? reason.message : reason.kind)));
    const frame = new Uint8Array(64 * 1024);
    let sent = 0;
    // Up to 64 MiB, an iteration at a time: far more than loopback's socket buffers hold.
    while (!server.isClosed && sent < 1024 && server.send(frame)) {
      sent++;
      if (sent % 16 === 0) await sleep(1);
    }
    expect(sent).toBeLessThan(1024);
    expect(await Promise.race([closed, sleep(10_000).then(() => 'still open after 10 s')])).toBe('peer does not read its replies');
  });
});
