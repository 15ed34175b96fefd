/**
 * Admin guide 22.11 section 7 on real processes: "the --advertise value is announced to the
 * cluster when the instance starts; it can be changed when the instance restarts". Two instances
 * (two voters: nothing commits without both), each in turn stopped and restarted from its data
 * directory with another --listen port; then a third joins through a moved instance's new address.
 * The steps share one cluster and run in order.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { Cluster, freePort, picodataBundle, runCli, until, type Instance } from './harness.ts';

describe('--advertise changes at a restart (2 real processes, 2 voters)', () => {
  const cluster = new Cluster('advertise');
  let i1: Instance;
  let i2: Instance;

  beforeAll(async () => {
    await picodataBundle();
    i1 = await cluster.add('i1', { instanceId: 'i1' });
    i2 = await cluster.add('i2', { instanceId: 'i2' });
    i1.spec = { ...i1.spec, peers: [i1.address] };
    i2.spec = { ...i2.spec, peers: [i1.address] };
  });
  afterAll(() => cluster.destroy());

  /** Every instance's view of `instanceId`'s address, through pico.instance_info. */
  async function addressesOf(instanceId: string, on: readonly Instance[]): Promise<string[]> {
    return Promise.all(on.map(async (i) => (await i.info(instanceId)).advertise_address));
  }

  /** A CaS through `via` is applied on `on`: the Raft log reaches it. */
  async function casApplied(via: Instance, on: Instance, key: string): Promise<void> {
    const [index] = await via.call('pico.cas', [{ kind: 'insert', space: '_picodata_property', tuple: [key, true] }], 15_000);
    expect(typeof index).toBe('number');
    const [applied] = await on.call('pico.raft_wait_index', [index as MpValue, 10], 15_000);
    expect(applied as number).toBeGreaterThanOrEqual(index as number);
  }

  async function restartOnNewPort(instance: Instance, incarnation: number): Promise<string> {
    const before = instance.address;
    expect(await instance.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await instance.start({}, await freePort());
    expect(instance.address).not.toBe(before);
    try {
      const info = await instance.waitOnline(30_000, incarnation);
      expect(info.current_grade).toEqual({ variant: 'Online', incarnation });
    } catch (error) {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    }
    return before;
  }

  it('two instances form a cluster with two voters', async () => {
    await i1.start();
    await i1.waitOnline(20_000);
    await i2.start();
    try {
      await i2.waitOnline(30_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    }
    await until('two voters', async () => ((await i1.raftStatus()).voters.length === 2 ? true : undefined), 15_000);
    expect(await addressesOf('i2', [i1, i2])).toEqual([i2.address, i2.address]);
  }, 60_000);

  it('the follower restarted with another --listen port is Online, announced at the new address', async () => {
    const old = await restartOnNewPort(i2, 2);
    expect(await addressesOf('i2', [i1, i2])).toEqual([i2.address, i2.address]);
    const announced = [...i1.events('instance announced a new address'), ...i2.events('instance announced a new address')];
    expect(announced).toContainEqual(expect.objectContaining({ instance_id: 'i2', address: i2.address, previous: old }));
    const { code, stdout } = await runCli(['status', '--peer', i1.address, '--json']);
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as { instances: Array<{ instance_id: string; peer_address: string }> };
    expect(status.instances.find((i) => i.instance_id === 'i2')?.peer_address).toBe(i2.address);
    // Raft reaches it at the new address (nothing would commit otherwise: two voters), both ways.
    await casApplied(i1, i2, 'moved-i2');
    await casApplied(i2, i1, 'from-moved-i2');
  }, 60_000);

  it('the other one (its --peer now stale) restarted on another port finds the leader from its stored peers', async () => {
    await restartOnNewPort(i1, 2);
    expect(i1.spec.peers).not.toContain(i1.address);
    expect(await addressesOf('i1', [i1, i2])).toEqual([i1.address, i1.address]);
    await casApplied(i2, i1, 'moved-i1');
    await casApplied(i1, i2, 'from-moved-i1');
  }, 60_000);

  it('a new instance joins through the moved instance at its new address; the log reaches all three', async () => {
    const i3 = await cluster.add('i3', { instanceId: 'i3', peers: [i1.address] });
    await i3.start();
    try {
      await i3.waitOnline(30_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    }
    expect(await addressesOf('i1', [i3])).toEqual([i1.address]);
    expect(await addressesOf('i2', [i3])).toEqual([i2.address]);
    await casApplied(i3, i1, 'three');
    await casApplied(i3, i2, 'three-2');
    for (const i of [i1, i2, i3]) expect(await i.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 60_000);
});
