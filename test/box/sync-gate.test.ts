/**
 * The box's sync gate (Tarantool's is_sync): a transaction that wrote to a synchronous space is
 * acknowledged once the gate lets its last LSN through; others are not held. And
 * waitVisibleConfirmed: what is visible now is confirmed before it is reported to another
 * instance. The gate here is the test's: it records the LSNs asked for and releases them on demand.
 */

import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

class ManualGate {
  readonly asked: number[] = [];
  private readonly waiting: Array<{ lsn: number; resolve: () => void }> = [];
  confirmedLsn = 0;

  readonly gate = (lsn: number): Promise<void> => {
    this.asked.push(lsn);
    if (lsn <= this.confirmedLsn) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ lsn, resolve }));
  };

  confirm(lsn: number): void {
    this.confirmedLsn = lsn;
    for (const w of this.waiting.splice(0)) {
      if (w.lsn <= lsn) w.resolve();
      else this.waiting.push(w);
    }
  }
}

async function openBox(): Promise<{ box: Box; gate: ManualGate }> {
  const box = await Box.open({ disk: new MemoryDisk(), log: captureLog(), walMode: 'fsync' });
  for (const [name, isSync] of [['plain', false], ['sync', true]] as const) {
    await box.createSpace(name, { isSync, format: [{ name: 'id', type: 'unsigned' }] });
    await box.createIndex(name, 'pk', { parts: [['id', 'unsigned']] });
  }
  const gate = new ManualGate();
  box.setSyncGate(gate.gate);
  return { box, gate };
}

/** Whether `promise` has settled after the pending microtasks and WAL writes ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('sync gate', () => {
  it('holds a write to a synchronous space until its LSN is confirmed, not one to an asynchronous space', async () => {
    const { box, gate } = await openBox();
    expect(await settled(box.space('plain').insert([1]))).toBe(true);
    expect(gate.asked).toEqual([]);
    const write = box.space('sync').insert([1]);
    expect(await settled(write)).toBe(false);
    // Visible (and durable here) before its quorum, as in Tarantool 2.6 without MVCC.
    expect(box.space('sync').get([1])).toEqual([1]);
    expect(gate.asked).toEqual([box.committedLsn]);
    gate.confirm(box.committedLsn);
    expect(await settled(write)).toBe(true);
  });

  it('waitVisibleConfirmed waits for everything visible, asynchronous writes included, to be confirmed', async () => {
    const { box, gate } = await openBox();
    void box.space('sync').insert([1]);
    await box.space('plain').insert([2]);
    const lastLsn = box.lastAssignedLsn;
    const barrier = box.waitVisibleConfirmed();
    expect(await settled(barrier)).toBe(false);
    gate.confirm(lastLsn - 1);
    expect(await settled(barrier)).toBe(false);
    gate.confirm(lastLsn);
    expect(await settled(barrier)).toBe(true);
    expect(gate.asked.at(-1)).toBe(lastLsn);
  });

  it('waitVisibleConfirmed does not ask the gate without synchronous spaces', async () => {
    const box = await Box.open({ disk: new MemoryDisk(), log: captureLog(), walMode: 'fsync' });
    await box.createSpace('plain', { format: [{ name: 'id', type: 'unsigned' }] });
    await box.createIndex('plain', 'pk', { parts: [['id', 'unsigned']] });
    const gate = new ManualGate();
    box.setSyncGate(gate.gate);
    await box.space('plain').insert([1]);
    expect(await settled(box.waitVisibleConfirmed())).toBe(true);
    expect(gate.asked).toEqual([]);
  });
});
