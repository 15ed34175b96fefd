/**
 * Property tests: random schedules of ticks, proposals, message reordering / duplication / loss,
 * partitions, crashes (losing unpersisted state), restarts from storage, compaction, membership
 * changes and leader transfers, over 3 to 7 voters. After every command the cluster checks
 * Election Safety, Log Matching, Leader Completeness, State Machine Safety, monotonic commit and
 * terms, and that acks never precede durability. After the faults stop and the network heals, a
 * leader must get a new proposal applied everywhere within a bounded number of ticks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PICODATA_2211_DEFAULTS, PICODATA_HEAD_OVERRIDES } from '../../core/raft/config.ts';
import { type ClusterOptions, ClusterSim, type Command } from './cluster-sim.ts';

const node = fc.nat(15);
const pick = fc.nat(1000);

/** Weighted so that time passes and messages flow much more often than faults happen. */
const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: node.map((n): Command => ({ kind: 'tick', node: n })) },
  { weight: 10, arbitrary: fc.constant<Command>({ kind: 'tickAll' }) },
  { weight: 40, arbitrary: fc.record({ pick, now: fc.nat(9) }).map((r): Command => ({ kind: 'deliver', pick: r.pick, processNow: r.now > 1 })) },
  { weight: 8, arbitrary: fc.constant<Command>({ kind: 'flush' }) },
  { weight: 10, arbitrary: fc.record({ node, crash: fc.nat(60) }).map((r): Command => ({ kind: 'process', node: r.node, crashAfterPersist: r.crash === 0 })) },
  { weight: 8, arbitrary: node.map((n): Command => ({ kind: 'propose', node: n })) },
  { weight: 2, arbitrary: pick.map((p): Command => ({ kind: 'duplicate', pick: p })) },
  { weight: 3, arbitrary: pick.map((p): Command => ({ kind: 'drop', pick: p })) },
  { weight: 1, arbitrary: fc.nat(255).map((m): Command => ({ kind: 'partition', mask: m })) },
  { weight: 2, arbitrary: fc.constant<Command>({ kind: 'heal' }) },
  { weight: 1, arbitrary: node.map((n): Command => ({ kind: 'crash', node: n })) },
  { weight: 2, arbitrary: node.map((n): Command => ({ kind: 'restart', node: n })) },
  { weight: 2, arbitrary: fc.record({ node, keep: fc.nat(3) }).map((r): Command => ({ kind: 'compact', node: r.node, keepEntries: r.keep })) },
  {
    weight: 1,
    arbitrary: fc.record({ node, type: fc.constantFrom('addNode', 'addLearnerNode', 'removeNode') as fc.Arbitrary<'addNode' | 'addLearnerNode' | 'removeNode'> })
      .map((r): Command => ({ kind: 'confChange', node: r.node, type: r.type })),
  },
  { weight: 1, arbitrary: fc.record({ node, target: node }).map((r): Command => ({ kind: 'transfer', node: r.node, target: r.target })) },
  { weight: 3, arbitrary: node.map((n): Command => ({ kind: 'readIndex', node: n })) },
  {
    weight: 1,
    arbitrary: fc.record({ node, target: node, explicit: fc.boolean(), demote: fc.boolean() })
      .map((r): Command => ({ kind: 'jointChange', ...r })),
  },
  { weight: 1, arbitrary: node.map((n): Command => ({ kind: 'leaveJoint', node: n })) },
);

const optionsArbitrary: fc.Arbitrary<ClusterOptions> = fc.record({
  voterCount: fc.integer({ min: 3, max: 7 }),
  preVote: fc.boolean(),
  checkQuorum: fc.boolean(),
  maxSizePerMsgBytes: fc.constantFrom(0, 100, Number.POSITIVE_INFINITY),
  maxInflightMsgs: fc.constantFrom(1, 3, 256),
  electionTicks: fc.constantFrom(5, 10),
  heartbeatTicks: fc.constantFrom(1, 2),
  seed: fc.nat(1 << 20),
});

/** Runs the schedule checking safety; then heals and returns the ticks liveness took (-1 = never). */
function runSchedule(options: ClusterOptions, commands: readonly Command[]): { sim: ClusterSim; ticks: number } {
  const sim = new ClusterSim(options);
  for (const command of commands) {
    sim.run(command);
    sim.checkInvariants();
  }
  sim.heal();
  // Budget: a few election rounds (randomized timeouts may collide), plus catch-up time.
  const ticks = sim.awaitProgress(20 * options.electionTicks);
  return { sim, ticks };
}

/** 300 schedules take 5-20 s on the shared 2-core machine; raise RAFT_PROPERTY_RUNS for a soak. */
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 300);

describe('Raft safety and liveness under random faults (fast-check)', () => {
  it(`holds for ${RUNS} random schedules of 300 to 1000 commands`, () => {
    const totals = { runs: 0, commits: 0, leaders: 0, snapshots: 0, restarts: 0, delivered: 0, reads: 0, joint: 0 };
    fc.assert(
      fc.property(optionsArbitrary, fc.array(commandArbitrary, { minLength: 300, maxLength: 1000, size: 'max' }), (options, commands) => {
        const { sim, ticks } = runSchedule(options, commands);
        totals.runs++;
        totals.commits += sim.stats.maxCommit;
        totals.leaders += sim.stats.leadersElected;
        totals.snapshots += sim.stats.snapshotsInstalled;
        totals.restarts += sim.stats.restarts;
        totals.delivered += sim.stats.messagesDelivered;
        totals.reads += sim.stats.readsServed;
        totals.joint += sim.stats.jointConfigs;
        if (process.env.RAFT_PROPERTY_VERBOSE) console.log(JSON.stringify({ ...sim.stats, ticks, voters: options.voterCount }));
        if (ticks < 0) throw new Error(`no progress within ${20 * options.electionTicks} ticks after healing`);
      }),
      {
        numRuns: RUNS,
        seed: Number(process.env.RAFT_PROPERTY_SEED ?? 20261122),
        // Bounds the wall time on a loaded machine: fewer schedules rather than a timeout. A
        // failure found before the limit is still reported (shrunk as far as time allowed).
        interruptAfterTimeLimit: Number(process.env.RAFT_PROPERTY_TIME_LIMIT_MS ?? 60_000),
      },
    );
    // The schedules must actually exercise the interesting paths, or the test proves little.
    expect(totals.runs).toBeGreaterThan(Math.min(RUNS, 50));
    expect(totals.leaders).toBeGreaterThan(totals.runs);
    expect(totals.snapshots).toBeGreaterThan(0);
    expect(totals.reads).toBeGreaterThan(totals.runs);
    expect(totals.joint).toBeGreaterThan(0);
    expect(totals.restarts).toBeGreaterThan(totals.runs);
    expect(totals.commits).toBeGreaterThan(totals.runs * 3);
  });
});

describe('Picodata settings', () => {
  const settings = (overrides: Partial<typeof PICODATA_2211_DEFAULTS> | typeof PICODATA_HEAD_OVERRIDES) => {
    const c = { ...PICODATA_2211_DEFAULTS, ...overrides };
    return {
      preVote: c.preVote, checkQuorum: c.checkQuorum, electionTicks: c.electionTicks,
      heartbeatTicks: c.heartbeatTicks, maxSizePerMsgBytes: c.maxSizePerMsgBytes, maxInflightMsgs: c.maxInflightMsgs,
    };
  };
  for (const [name, options] of [
    ['22.11 defaults (heartbeat 2, election 20, pre-vote, no check-quorum, 1 entry/msg)', settings({})],
    ['HEAD (check-quorum, heartbeat 10, election 100, 64-byte messages)', settings(PICODATA_HEAD_OVERRIDES)],
  ] as const) {
    it(`${name}: elects a leader and replicates after faults`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 3, max: 5 }), fc.nat(1 << 20), fc.array(commandArbitrary, { minLength: 200, maxLength: 600, size: 'max' }),
          (voterCount, seed, commands) => {
            const { ticks } = runSchedule({ ...options, voterCount, seed }, commands);
            expect(ticks).toBeGreaterThanOrEqual(0);
          }),
        { numRuns: 40, seed: 7 },
      );
    });
  }
});
