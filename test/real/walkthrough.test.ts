/**
 * The admin guide's walk-through on real processes (section 15: four instances with
 * --init-replication-factor 2 -> two replicasets; 15.2: pico.raft_status() and the instance and
 * replicaset tables), the section 13 expel example (`picodata expel`), a restart from the data
 * directories of a replicaset master (the incarnation grows) and SIGTERM of each instance in
 * turn (exit code 0).
 * Along the way the operator log events are checked where they happen: `joined the cluster`,
 * `expel requested` (on the leader) and `replicaset master switched` (a master with a running
 * replica going away). The steps share one cluster and run in order.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_STATUS_FUNCTION, type ClusterStatus } from '../../runtime-real/cluster-info.ts';
import { Cluster, picodataBundle, runCli, until, type Instance } from './harness.ts';

describe('admin guide walk-through on 4 real processes', () => {
  const cluster = new Cluster('walkthrough');
  let all: Instance[] = [];

  beforeAll(async () => {
    await picodataBundle();
    for (const name of ['i1', 'i2', 'i3', 'i4']) await cluster.add(name, { initReplicationFactor: 2 });
    all = cluster.instances;
  });
  afterAll(() => cluster.destroy());

  it('15.1: four instances started together with --peer form one cluster of two replicasets', async () => {
    const [i1, i2, i3, i4] = all as [Instance, Instance, Instance, Instance];
    // Discovery through a comma list of peers, none of them necessarily the bootstrap leader.
    await Promise.all([
      i1.start({ peers: [i1.address] }),
      i2.start({ peers: [i1.address] }),
      i3.start({ peers: [i1.address, i2.address] }),
      i4.start({ peers: [i2.address, i3.address] }),
    ]);
    try {
      await Promise.all(all.map((i) => i.waitOnline(30_000)));
    } catch (error) {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    }
    const infos = await Promise.all(all.map((i) => i.info()));
    expect(new Set(infos.map((i) => i.instance_id))).toEqual(new Set(['i1', 'i2', 'i3', 'i4']));
    const byReplicaset = new Map<string, number>();
    for (const info of infos) byReplicaset.set(info.replicaset_id, (byReplicaset.get(info.replicaset_id) ?? 0) + 1);
    expect(byReplicaset).toEqual(new Map([['r1', 2], ['r2', 2]]));
    expect(infos.every((i) => i.current_grade.incarnation === 1 && i.target_grade.variant === 'Online')).toBe(true);
    // The operator's log: one instance bootstrapped the cluster, each other one logged its join.
    const bootstrapper = all.filter((i) => i.events('cluster bootstrapped').length > 0);
    expect(bootstrapper, cluster.logs()).toHaveLength(1);
    for (const [n, instance] of all.entries()) {
      const joined = instance.events('joined the cluster');
      if (instance === bootstrapper[0]) {
        expect(joined).toEqual([]);
        continue;
      }
      const { instance_id, raft_id, replicaset_id } = infos[n]!;
      expect(joined, instance.name).toEqual([expect.objectContaining({ level: 'info', instance_id, raft_id, replicaset_id })]);
    }
  }, 60_000);

  it('15.2: pico.raft_status() agrees everywhere; status shows the instance and replicaset tables', async () => {
    const statuses = await until('3 voters and 1 learner', async () => {
      const list = await Promise.all(all.map((i) => i.raftStatus()));
      return list.every((s) => s.voters.length === 3 && s.learners.length === 1) ? list : undefined;
    }, 15_000);
    const leaderId = statuses[0]!.leader_id;
    expect(leaderId).not.toBeNull();
    for (const s of statuses) {
      expect(s.leader_id).toBe(leaderId);
      expect(s.term).toBe(statuses[0]!.term);
      expect(s.raft_state).toBe(s.id === leaderId ? 'Leader' : 'Follower');
    }
    const { code, stdout } = await runCli(['status', '--peer', all[1]!.address]);
    expect(code).toBe(0);
    expect(stdout).toContain(`connected to ${all[1]!.address}`);
    expect(stdout).toMatch(/- voters: \[\d, \d, \d\]/);
    expect(stdout).toMatch(/- learners: \[\d\]/);
    expect(stdout).toContain(`- leader_id: ${leaderId}`);
    const instanceRows = stdout.split('\n').filter((l) => /^\s+- \|\s+i\d\s+\|/.test(l));
    expect(instanceRows).toHaveLength(4);
    // The guide's grade cells: ["Online",1] for current_grade, then target_grade.
    for (const row of instanceRows) expect(row).toMatch(/\|\s+\["Online",1\]\s+\|\s+\["Online",1\]\s+\|/);
    expect(stdout).toMatch(/\|\s+r1\s+\|\s+e0df68c5-e7f9-395f-86b3-30ad9e1b7b07\s+\|\s+i\d\s+\|\s+1\s+\|/);
    expect(stdout).toMatch(/\|\s+r2\s+\|\s+eff4449e-feb2-3d73-87bc-75807cb23191\s+\|\s+i\d\s+\|\s+1\s+\|/);
  }, 30_000);

  it('13.1: picodata expel --instance-id i4 --peer <another instance> expels it and its process exits 0', async () => {
    const target = await findByInstanceId(all, 'i4');
    const peer = all.find((i) => i !== target)!;
    const masterSwitch = await expectedMasterSwitch(peer, 'i4', all);
    const { code, stdout, stderr } = await runCli(['expel', '--instance-id', 'i4', '--peer', peer.address]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('"i4" successfully expelled');
    // Logged once, by the leader (the peer forwards the request to it).
    const requested = (): Array<Record<string, unknown>> => all.flatMap((i) => i.events('expel requested'));
    await until('expel requested in a log', () => (requested().length > 0 ? true : undefined), 5_000);
    expect(requested()).toEqual([expect.objectContaining({ level: 'info', instance_id: 'i4' })]);
    if (masterSwitch !== undefined) await waitMasterSwitched(all, masterSwitch);
    expect(await target.waitExit(15_000)).toEqual({ code: 0, signal: null });
    const info = await until('i4 Expelled', async () => {
      const i = await peer.info('i4');
      return i.current_grade.variant === 'Expelled' ? i : undefined;
    }, 10_000);
    expect(info.target_grade.variant).toBe('Expelled');
    // The governor sets the grade first, then removes it from the Raft configuration.
    await until('i4 out of the raft configuration', async () => {
      const status = await peer.raftStatus();
      return [...status.voters, ...status.learners].includes(info.raft_id) ? undefined : true;
    }, 10_000);
    // An expelled instance refuses to start again.
    await target.start();
    expect((await target.waitExit(15_000)).code).not.toBe(0);
    expect(target.log).toContain('expelled');
  }, 60_000);

  it('a master restarts from its data directory (its replica takes over) with the same raft id and a higher incarnation', async () => {
    const remaining = all.filter((i) => i.running);
    expect(remaining).toHaveLength(3);
    // After the expel one replicaset has two instances: SIGTERM of its master (the Raft leader
    // or not) makes the governor switch the master to the other one, and log it.
    const switches = await Promise.all(remaining.map(async (i) => expectedMasterSwitch(i, (await i.info()).instance_id, remaining)));
    expect(switches.filter((s) => s !== undefined), 'one master with a running replica').toHaveLength(1);
    const at = switches.findIndex((s) => s !== undefined);
    const master = remaining[at]!;
    const before = await master.info();
    expect(await master.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await waitMasterSwitched(remaining, switches[at]!);
    const witness = remaining.find((i) => i !== master)!;
    await until('the stopped instance Offline', async () => ((await witness.info(before.instance_id)).current_grade.variant === 'Offline' ? true : undefined), 10_000);
    await master.start();
    const after = await master.waitOnline(30_000, before.current_grade.incarnation + 1);
    expect(await witness.info(before.instance_id)).toMatchObject({ current_grade: after.current_grade, target_grade: after.current_grade });
    expect(after.raft_id).toBe(before.raft_id);
    expect(after.instance_id).toBe(before.instance_id);
    expect(after.current_grade.incarnation).toBe(before.current_grade.incarnation + 1);
    expect(master.events('restarting')).toHaveLength(1);
  }, 60_000);

  it('SIGTERM stops each instance in turn with exit code 0 (the leader first)', async () => {
    const running = all.filter((i) => i.running);
    const leaderId = (await running[0]!.raftStatus()).leader_id;
    const ids = await Promise.all(running.map(async (i) => (await i.info()).raft_id));
    const order = [...running].sort((a, b) => Number(ids[running.indexOf(b)] === leaderId) - Number(ids[running.indexOf(a)] === leaderId));
    for (const [n, instance] of order.entries()) {
      const masterSwitch = await expectedMasterSwitch(instance, (await instance.info()).instance_id, running);
      const status = await instance.stop('SIGTERM', 15_000);
      expect(status, `${instance.name}\n${cluster.logs()}`).toEqual({ code: 0, signal: null });
      if (masterSwitch !== undefined) await waitMasterSwitched(running, masterSwitch);
      expect(instance.events('shutting down')).toHaveLength(1);
      expect(instance.events('data directory closed, process exits')).toHaveLength(1);
      // Picodata 13 "threesome": the leader, then another go cleanly; the last one may find
      // no quorum left and give up (still exit code 0).
      if (n < order.length - 1) expect(instance.log, cluster.logs()).not.toContain('on_shutdown triggers failed');
    }
  }, 60_000);
});

/**
 * Picodata acceptance 13 ("leader first", 2 nodes): a leader that is asked to stop hands its
 * leadership over before it goes (the governor's downgrade step: transfer leadership, then switch
 * the master, then set the grade), so the survivor leads and records it Offline.
 */
describe('leader shutdown hands leadership over (2 real processes)', () => {
  const cluster = new Cluster('leader-first');
  afterAll(() => cluster.destroy());

  it('SIGTERM of the leader: the other instance becomes Leader and sees it Offline', async () => {
    await picodataBundle();
    const i1 = await cluster.add('i1');
    const i2 = await cluster.add('i2');
    await i1.start({ peers: [i1.address] });
    await i1.waitOnline(30_000);
    await i2.start({ peers: [i1.address] });
    await i2.waitOnline(30_000);
    await until('two voters', async () => ((await i2.raftStatus()).voters.length === 2 ? true : undefined), 10_000);
    expect(await i1.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(i1.log).not.toContain('on_shutdown triggers failed');
    await until('i2 Leader', async () => ((await i2.raftStatus()).raft_state === 'Leader' ? true : undefined), 6_000);
    expect((await i2.info('i1')).current_grade.variant).toBe('Offline');
  }, 60_000);
});

async function findByInstanceId(instances: readonly Instance[], id: string): Promise<Instance> {
  for (const instance of instances) if ((await instance.info()).instance_id === id) return instance;
  throw new Error(`no instance with id ${id}`);
}

interface MasterSwitch {
  readonly replicaset_id: string;
  readonly from: string;
  readonly to: string;
}

/**
 * The master switch the governor makes when `leaving` goes away, as `witness` sees the cluster:
 * `leaving` masters a replicaset with another member that wants to be Online and whose process
 * runs. Undefined when there is none.
 */
async function expectedMasterSwitch(witness: Instance, leaving: string, instances: readonly Instance[]): Promise<MasterSwitch | undefined> {
  const [status] = (await witness.call(CLUSTER_STATUS_FUNCTION)) as unknown as [ClusterStatus];
  const replicaset = status.replicasets.find((r) => r.master_id === leaving);
  if (replicaset === undefined) return undefined;
  const running = new Set<string>();
  for (const instance of instances) if (instance.running) running.add((await instance.info()).instance_id);
  const successors = status.instances.filter(
    (i) => i.replicaset_id === replicaset.replicaset_id && i.instance_id !== leaving && i.target_grade.variant === 'Online' && running.has(i.instance_id),
  );
  expect(successors.length).toBeLessThanOrEqual(1); // replication factor 2
  const to = successors[0];
  return to === undefined ? undefined : { replicaset_id: replicaset.replicaset_id, from: leaving, to: to.instance_id };
}

/** The governor (on whichever instance leads) logs the switch. */
async function waitMasterSwitched(instances: readonly Instance[], expected: MasterSwitch): Promise<void> {
  const matches = (): boolean =>
    instances
      .flatMap((i) => i.events('replicaset master switched'))
      .some((e) => e['replicaset_id'] === expected.replicaset_id && e['from'] === expected.from && e['to'] === expected.to && e['level'] === 'info');
  await until(`replicaset master switched ${JSON.stringify(expected)}`, () => (matches() ? true : undefined), 10_000);
}
