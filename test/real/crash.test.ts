/**
 * Crash safety of the daemon: with --wal-mode fsync, SIGKILL at any moment loses no acknowledged
 * write. A client keeps 32 replaces in flight and records every acknowledged one; the process is
 * killed at a random moment; after a restart from the same data directory every acknowledged
 * row is there with its value. Several rounds, each on top of the previous ones' data, plus
 * kills during start-up (the data directory must still open and the instance reach Online), and
 * the same rounds with a checkpoint every second.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { IprotoClient } from '../../core/iproto/client.ts';
import { RealClock } from '../../runtime-real/clock.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { Cluster, picodataBundle, type Instance } from './harness.ts';

const IN_FLIGHT = 32;
const ROUNDS = 4;

/** Space id of `test` as the instance names it (resolved like a connector would). */
async function testSpaceId(client: IprotoClient): Promise<number> {
  const result = await client.select({ spaceId: 281, indexId: 2, key: ['test'], limit: 1 });
  if (!result.ok || result.value.length === 0) throw new Error('space test not found');
  return (result.value[0] as MpValue[])[0] as number;
}

/** Writes ids from `firstId` up, 32 in flight, until the connection dies; returns the acknowledged ids. */
async function writeUntilKilled(instance: Instance, firstId: number, killAfterMs: number): Promise<Set<number>> {
  const connected = await IprotoClient.connect({ net: new RealNetwork(), clock: new RealClock() }, instance.address, { connectTimeoutMs: 2_000 });
  if (!connected.ok) throw new Error(`connect: ${JSON.stringify(connected.error)}`);
  const client = connected.value;
  const spaceId = await testSpaceId(client);
  const acknowledged = new Set<number>();
  let next = firstId;
  let dead = false;
  const worker = async (): Promise<void> => {
    while (!dead) {
      const id = next++;
      const result = await client.replace(spaceId, [id, `value-${id}`], { timeoutMs: 5_000 });
      if (result.ok) acknowledged.add(id);
      else dead = true;
    }
  };
  const killer = new Promise<void>((resolve) =>
    setTimeout(() => {
      instance.kill();
      resolve();
    }, killAfterMs),
  );
  await Promise.all([...Array.from({ length: IN_FLIGHT }, worker), killer]);
  client.close();
  return acknowledged;
}

/**
 * Starts `instance`, then ROUNDS times: writes until a SIGKILL `killAfterMsMin` + up to
 * `killAfterMsSpread` ms in, restarts it, and checks every row acknowledged so far is there.
 */
async function killAndRestartRounds(instance: Instance, killAfterMsMin: number, killAfterMsSpread: number): Promise<void> {
  await instance.start();
  await instance.waitOnline(30_000);
  const everAcknowledged = new Set<number>();
  for (let round = 0; round < ROUNDS; round++) {
    const killAfterMs = killAfterMsMin + Math.floor(Math.random() * killAfterMsSpread);
    const acknowledged = await writeUntilKilled(instance, round * 1_000_000 + 1, killAfterMs);
    expect((await instance.waitExit(10_000)).signal).toBe('SIGKILL');
    expect(acknowledged.size, `round ${round}: nothing was acknowledged before the kill`).toBeGreaterThan(0);
    for (const id of acknowledged) everAcknowledged.add(id);
    await instance.start();
    await instance.waitOnline(30_000, round + 2);
    const rows = await selectAll(instance);
    const missing = [...everAcknowledged].filter((id) => rows.get(id) !== `value-${id}`);
    expect(missing, `round ${round}: acknowledged rows lost after SIGKILL (killed after ${killAfterMs} ms)`).toEqual([]);
  }
}

describe('SIGKILL loses no acknowledged write with --wal-mode fsync', () => {
  const cluster = new Cluster('crash');
  let i1: Instance;

  beforeAll(async () => {
    await picodataBundle();
    i1 = await cluster.add('i1', { walMode: 'fsync' });
    i1.spec = { ...i1.spec, peers: [i1.address] };
  });
  afterAll(() => cluster.destroy());

  it(`${ROUNDS} rounds of writes killed at a random moment, then a restart`, async () => {
    await killAndRestartRounds(i1, 200, 600);
  }, 120_000);

  it('a kill during start-up leaves a data directory that restarts to Online', async () => {
    for (const delayMs of [30, 120, 250]) {
      await i1.stop('SIGTERM');
      await i1.start();
      await new Promise((r) => setTimeout(r, delayMs));
      i1.kill();
      await i1.waitExit(10_000);
      await i1.start();
      await i1.waitOnline(30_000);
    }
    expect((await selectAll(i1)).size).toBeGreaterThan(0);
  }, 120_000);
});

describe('SIGKILL during checkpoints loses no acknowledged write', () => {
  const cluster = new Cluster('crash-ckpt');
  let i1: Instance;

  beforeAll(async () => {
    await picodataBundle();
    // A snapshot every second, and kills 0.8-2.5 s into the writes: some land while a snapshot
    // is written or the WAL trimmed, the others just after one.
    i1 = await cluster.add('i1', { walMode: 'fsync', extraArgs: ['--checkpoint-interval', '1'] });
    i1.spec = { ...i1.spec, peers: [i1.address] };
  });
  afterAll(() => cluster.destroy());

  it(`${ROUNDS} rounds of writes killed at a random moment, then a restart from snapshot and WAL`, async () => {
    await killAndRestartRounds(i1, 800, 1_700);
  }, 120_000);
});

async function selectAll(instance: Instance): Promise<Map<number, MpValue>> {
  const connected = await IprotoClient.connect({ net: new RealNetwork(), clock: new RealClock() }, instance.address, { connectTimeoutMs: 2_000 });
  if (!connected.ok) throw new Error('connect failed');
  try {
    const spaceId = await testSpaceId(connected.value);
    const result = await connected.value.select({ spaceId, iterator: 2 });
    if (!result.ok) throw new Error(`select: ${JSON.stringify(result.error)}`);
    return new Map((result.value as MpValue[][]).map((t) => [t[0] as number, t[1]]));
  } finally {
    connected.value.close();
  }
}
