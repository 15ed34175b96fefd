import { describe, expect, it } from 'vitest';
import type { Connection, CloseReason } from '../../core/env/network.ts';
import { NetError } from '../../core/env/network.ts';
import { utf8, fromUtf8 } from '../../core/lib/bytes.ts';
import { DEFAULT_NET_FAULTS } from '../../runtime-sim/network.ts';
import { World, type SimHost } from '../../runtime-sim/world.ts';

interface Peer {
  received: string[];
  closes: CloseReason[];
  conns: Connection[];
}

/** A server on `host` that records frames and echoes `ping:*` as `pong:*`. */
function echoServer(host: SimHost): Peer {
  const peer: Peer = { received: [], closes: [], conns: [] };
  host.start(async (env) => {
    await env.net.listen(`${host.name}:3301`, (conn) => {
      peer.conns.push(conn);
      conn.onFrame((f) => {
        const text = fromUtf8(f);
        peer.received.push(text);
        if (text.startsWith('ping:')) conn.send(utf8(`pong:${text.slice(5)}`));
      });
      conn.onClose((r) => peer.closes.push(r));
    }, { greeting: () => utf8('hello') });
  });
  return peer;
}

function client(host: SimHost, target: string): Promise<{ conn: Connection; peer: Peer }> {
  return new Promise((resolve, reject) => {
    host.start(async (env) => {
      try {
        const conn = await env.net.connect(`${target}:3301`, { timeoutMs: 500 });
        const peer: Peer = { received: [], closes: [], conns: [conn] };
        conn.onFrame((f) => peer.received.push(fromUtf8(f)));
        conn.onClose((r) => peer.closes.push(r));
        resolve({ conn, peer });
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function simulate(world: World, body: () => Promise<void>): Promise<void> {
  await world.run(body, { eventsMax: 1_000_000, virtualMsMax: 1e9 });
}

describe('simulated network', () => {
  it('delivers frames in order per connection, with the greeting first', async () => {
    const world = new World({ seed: 1, net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 1, latencyMsMean: 5 } });
    const [a, b] = [world.addHost('a'), world.addHost('b')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const { conn, peer } = await client(b, 'a');
      expect(fromUtf8(conn.greeting)).toBe('hello');
      for (let i = 0; i < 100; i++) conn.send(utf8(`ping:${i}`));
      await world.sleep(1000);
      expect(server.received).toEqual(Array.from({ length: 100 }, (_, i) => `ping:${i}`));
      expect(peer.received).toEqual(Array.from({ length: 100 }, (_, i) => `pong:${i}`));
    });
  });

  it('reorders frames across connections (jitter), never within one', async () => {
    const world = new World({ seed: 2, net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 1, latencyMsMean: 20 } });
    const [a, b, c] = [world.addHost('a'), world.addHost('b'), world.addHost('c')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const [x, y] = await Promise.all([client(b, 'a'), client(c, 'a')]);
      for (let i = 0; i < 50; i++) {
        x.conn.send(utf8(`x:${i}`));
        y.conn.send(utf8(`y:${i}`));
      }
      await world.sleep(2000);
      const xs = server.received.filter((s) => s.startsWith('x:'));
      expect(xs).toEqual(Array.from({ length: 50 }, (_, i) => `x:${i}`));
      const interleaving = server.received.map((s) => s[0]).join('');
      expect(interleaving).not.toBe('xy'.repeat(50)); // jitter interleaves the two streams
    });
  });

  it('a symmetric partition blocks both directions; new connects time out', async () => {
    const world = new World({ seed: 3 });
    const [a, b] = [world.addHost('a'), world.addHost('b')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const { conn, peer } = await client(b, 'a');
      world.net.partition([[a.id], [b.id]]);
      conn.send(utf8('ping:lost'));
      server.conns[0]!.send(utf8('lost too'));
      await world.sleep(10_000);
      expect(server.received).toEqual([]);
      expect(peer.received).toEqual([]);
      // Both ends learn about the dead connection only after the detection delay.
      expect(peer.closes.map((c) => c.kind)).toEqual(['reset']);
      expect(server.closes.map((c) => c.kind)).toEqual(['reset']);
      b.crash('process');
      const error = await client(b, 'a').catch((e: unknown) => e);
      expect((error as NetError).code).toBe('ETIMEDOUT');
      world.net.heal();
      b.crash('process');
      const again = await client(b, 'a');
      again.conn.send(utf8('ping:after-heal'));
      await world.sleep(100);
      expect(again.peer.received).toEqual(['pong:after-heal']);
    });
  });

  it('a one-way cut blocks exactly one direction', async () => {
    const world = new World({ seed: 4 });
    const [a, b] = [world.addHost('a'), world.addHost('b')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const { conn, peer } = await client(b, 'a');
      world.net.cutOneWay(a.id, b.id);
      expect(world.net.canReach(b.id, a.id)).toBe(true);
      expect(world.net.canReach(a.id, b.id)).toBe(false);
      conn.send(utf8('ping:1')); // b -> a still arrives; the pong a -> b does not
      await world.sleep(100);
      expect(server.received).toEqual(['ping:1']);
      expect(peer.received).toEqual([]);
    });
  });

  it('a process crash closes its connections at the peer; power loss leaves them to time out', async () => {
    const world = new World({ seed: 5 });
    const [a, b, c] = [world.addHost('a'), world.addHost('b'), world.addHost('c')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const x = await client(b, 'a');
      const y = await client(c, 'a');
      b.crash('process');
      await world.sleep(50);
      expect(server.closes.map((r) => r.kind)).toEqual(['remote']);
      c.crash('power');
      await world.sleep(50);
      expect(server.closes.length).toBe(1); // nobody told the server yet
      await world.sleep(10_000);
      expect(server.closes.map((r) => r.kind)).toEqual(['remote', 'reset']);
      expect(x.peer.closes).toEqual([]); // the dead process hears nothing
      expect(y.peer.closes).toEqual([]);
    });
  });

  it('refuses connections where nothing listens and reports unknown hosts', async () => {
    const world = new World({ seed: 6 });
    const [, b] = [world.addHost('a'), world.addHost('b')];
    await simulate(world, async () => {
      const refused = await client(b, 'a').catch((e: unknown) => e);
      expect((refused as NetError).code).toBe('ECONNREFUSED');
      b.crash('process');
      const unknown = await client(b, 'nowhere').catch((e: unknown) => e);
      expect((unknown as NetError).code).toBe('EHOSTUNREACH');
    });
  });

  it('clogging delays but does not drop', async () => {
    const world = new World({ seed: 7 });
    const [a, b] = [world.addHost('a'), world.addHost('b')];
    const server = echoServer(a);
    await simulate(world, async () => {
      const { conn } = await client(b, 'a');
      world.net.clogHost(a.id, world.nowMs + 3000);
      conn.send(utf8('slow'));
      await world.sleep(2000);
      expect(server.received).toEqual([]);
      await world.sleep(1500);
      expect(server.received).toEqual(['slow']);
    });
  });
});
