import { describe, expect, it } from 'vitest';
import type { Store } from '../../core/env/disk.ts';
import { DiskError } from '../../core/env/disk.ts';
import { utf8, fromUtf8 } from '../../core/lib/bytes.ts';
import { crc32c } from '../../core/lib/crc32c.ts';
import { CorruptionError, seal, unseal } from '../../core/lib/sealed.ts';
import { NO_DISK_FAULTS, type DiskFaults } from '../../runtime-sim/disk.ts';
import type { TraceLine } from '../../runtime-sim/trace.ts';
import { World, type SimHost } from '../../runtime-sim/world.ts';

const key = (i: number): Uint8Array => utf8(`k${String(i).padStart(4, '0')}`);

/** Runs `body` as the program of a fresh process on `host`; the process stays up until crashed or exited. */
async function inProcess(world: World, host: SimHost, body: (store: Store) => Promise<void>): Promise<void> {
  await world.run(async () => {
    let done = false;
    host.start(async (env) => {
      const store = await env.disk.open('data');
      await body(store);
      done = true;
    });
    await world.waitFor(() => done, 60_000, 1);
  }, { eventsMax: 1_000_000, virtualMsMax: 1e9 });
}

function worldWith(seed: number, disk: Partial<DiskFaults> = {}): { world: World; host: SimHost } {
  const world = new World({ seed, disk: { ...NO_DISK_FAULTS, ...disk } });
  return { world, host: world.addHost('n1') };
}

describe('simulated disk', () => {
  it('unsynced writes vanish on power loss; fsynced ones survive', async () => {
    const { world, host } = worldWith(1);
    await inProcess(world, host, async (store) => {
      await store.write([{ kind: 'put', key: key(1), value: utf8('durable') }], 'fsync');
      void store.write([{ kind: 'put', key: key(2), value: utf8('buffered') }], 'none');
      expect(fromUtf8(store.get(key(2))!)).toBe('buffered'); // visible before durability
    });
    host.crash('power');
    // A power-loss crash keeps a random prefix of unsynced batches: with one batch pending,
    // either outcome is legal, but the fsynced record must always be there. Check many seeds.
    let lost = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { world: w, host: h } = worldWith(seed);
      await inProcess(w, h, async (store) => {
        await store.write([{ kind: 'put', key: key(1), value: utf8('durable') }], 'fsync');
        void store.write([{ kind: 'put', key: key(2), value: utf8('buffered') }], 'write');
      });
      h.crash('power');
      await inProcess(w, h, async (store) => {
        expect(fromUtf8(store.get(key(1))!)).toBe('durable');
        if (store.get(key(2)) === undefined) lost++;
      });
    }
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(40);
  });

  it('a process crash keeps what reached the OS and loses what stayed in the process', async () => {
    const { world, host } = worldWith(7);
    await inProcess(world, host, async (store) => {
      await store.write([{ kind: 'put', key: key(1), value: utf8('os') }], 'write');
      void store.write([{ kind: 'put', key: key(2), value: utf8('process-only') }], 'none');
    });
    host.crash('process');
    await inProcess(world, host, async (store) => {
      expect(fromUtf8(store.get(key(1))!)).toBe('os');
      expect(store.get(key(2))).toBeUndefined();
    });
  });

  it('a crash that keeps many batches is traced on its own host, with the count in its text', async () => {
    const lines: TraceLine[] = [];
    const world = new World({ seed: 3, disk: NO_DISK_FAULTS, traceSink: (line) => lines.push(line) });
    world.addHost('n0');
    const host = world.addHost('n1');
    await inProcess(world, host, async (store) => {
      for (let i = 0; i < 20; i++) await store.write([{ kind: 'put', key: key(i), value: utf8('v') }], 'write');
    });
    host.crash('process');
    const crash = lines.find((l) => l.kind === 'disk' && String(l.text).startsWith('crash process data'))!;
    expect(crash.text).toBe('crash process data kept 20');
    // The report finds the host as node / 16 (runtime-sim/report.ts).
    expect(Math.floor((crash.node as number) / 16)).toBe(host.id);
  });

  it('a range delete removes [from, to) and, lost in a crash, brings every key back', async () => {
    const { world, host } = worldWith(11);
    const live = (store: Store): number[] => [...store.range()].map(([k]) => Number(fromUtf8(k).slice(1)));
    await inProcess(world, host, async (store) => {
      await store.write([1, 2, 3, 4, 5].map((i) => ({ kind: 'put' as const, key: key(i), value: utf8(`v${i}`) })), 'fsync');
      await store.write([{ kind: 'deleteRange', from: key(2), to: key(4) }, { kind: 'deleteRange', from: key(9), to: key(0) }], 'fsync');
      expect(live(store)).toEqual([1, 4, 5]);
      void store.write([{ kind: 'deleteRange', from: key(0), to: key(9) }], 'none');
      expect(live(store)).toEqual([]);
    });
    host.crash('process'); // the last range delete stayed in the process
    await inProcess(world, host, async (store) => {
      expect(live(store)).toEqual([1, 4, 5]);
      expect(fromUtf8(store.get(key(4))!)).toBe('v4');
    });
  });

  it('survivors of a power loss are a prefix of the write order, never a reordering', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { world, host } = worldWith(seed);
      await inProcess(world, host, async (store) => {
        for (let i = 0; i < 20; i++) void store.write([{ kind: 'put', key: key(i), value: utf8('v') }], 'write');
      });
      host.crash('power');
      await inProcess(world, host, async (store) => {
        const present = Array.from({ length: 20 }, (_, i) => store.get(key(i)) !== undefined);
        const firstMissing = present.indexOf(false);
        if (firstMissing >= 0) expect(present.slice(firstMissing).every((p) => !p)).toBe(true);
      });
    }
  });

  it('a batch written while an fsync is in flight is not made durable by it (even after OS writeback)', async () => {
    let lostB = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const { world, host } = worldWith(seed);
      await inProcess(world, host, async (store) => {
        await store.write([{ kind: 'put', key: key(1), value: utf8('A') }], 'write');
        await new Promise<void>((resolve) => world.sleep(31_000).then(resolve));
        const synced = store.sync();
        void store.write([{ kind: 'put', key: key(2), value: utf8('B') }], 'write'); // OS writeback retires A here
        await synced;
      });
      host.crash('power');
      await inProcess(world, host, async (store) => {
        expect(fromUtf8(store.get(key(1))!)).toBe('A');
        if (store.get(key(2)) === undefined) lostB++;
      });
    }
    expect(lostB).toBeGreaterThan(0);
  });

  it('rejects a batch with ENOSPC above capacity and applies none of it', async () => {
    const { world, host } = worldWith(3, { capacityBytes: 100 });
    await inProcess(world, host, async (store) => {
      await store.write([{ kind: 'put', key: key(1), value: new Uint8Array(40) }], 'write');
      const error = await store
        .write([{ kind: 'put', key: key(2), value: new Uint8Array(30) }, { kind: 'put', key: key(3), value: new Uint8Array(30) }], 'write')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DiskError);
      expect((error as DiskError).code).toBe('ENOSPC');
      expect(store.get(key(2))).toBeUndefined();
    });
  });

  it('fails reads and writes with EIO at the configured rates', async () => {
    const { world, host } = worldWith(5, { readErrorRate: 0.5, writeErrorRate: 0.5 });
    let readErrors = 0;
    let writeErrors = 0;
    await inProcess(world, host, async (store) => {
      for (let i = 0; i < 200; i++) {
        try {
          store.get(key(i));
        } catch (e) {
          expect((e as DiskError).code).toBe('EIO');
          readErrors++;
        }
        await store.write([{ kind: 'put', key: key(i), value: utf8('x') }], 'none').catch(() => writeErrors++);
      }
    });
    expect(readErrors).toBeGreaterThan(60);
    expect(readErrors).toBeLessThan(140);
    expect(writeErrors).toBeGreaterThan(60);
  });

  it('rotten bytes are caught by the seal and never returned as good data', async () => {
    const { world, host } = worldWith(11);
    await inProcess(world, host, async (store) => {
      await store.write([{ kind: 'put', key: key(1), value: seal(utf8('precious')) }], 'fsync');
    });
    host.stop();
    expect(host.disk.rotRandomValue()).not.toBeNull();
    await inProcess(world, host, async (store) => {
      expect(() => unseal(store.get(key(1))!, 'data/k1')).toThrow(CorruptionError);
    });
  });

  it('seal/unseal round-trips and detects every single-bit flip', () => {
    const payload = utf8('the quick brown fox');
    const sealed = seal(payload);
    expect(fromUtf8(unseal(sealed, 'x'))).toBe('the quick brown fox');
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const rotten = sealed.slice();
      rotten[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => unseal(rotten, 'x')).toThrow(CorruptionError);
    }
    expect(crc32c(utf8('123456789'))).toBe(0xe3069283);
  });
});
