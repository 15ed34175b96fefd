import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Discovery } from '../../core/cluster/discovery.ts';
import { Sfc32Random } from '../../core/lib/sfc32-random.ts';

/**
 * Runs discovery among instances that all start with the same `--peer` list, delivering
 * requests in a random order with random failures, until everyone is decided.
 */
function runDiscovery(addresses: string[], peers: string[], seed: number, failureRate: number): Map<string, Discovery> {
  const nodes = new Map(addresses.map((a, i) => [a, new Discovery(`tmp-${i}`, peers)]));
  const random = Sfc32Random.fromSeed(seed);
  for (let round = 0; round < 500; round++) {
    const undecided = random.shuffle(addresses.filter((a) => nodes.get(a)!.done === undefined));
    if (undecided.length === 0) return nodes;
    for (const caller of undecided) {
      const node = nodes.get(caller)!;
      for (const target of node.targets()) {
        const callee = nodes.get(target);
        const request = node.state();
        if (callee === undefined || request.kind !== 'election' || random.chance(failureRate)) {
          node.handleFailure(target);
          continue;
        }
        node.handleReply(target, callee.handleRequest(request, target));
      }
    }
  }
  throw new Error('discovery did not finish in 500 rounds');
}

describe('discovery (REFERENCE 1.3)', () => {
  it('the smallest --peer address bootstraps; everyone else learns it', () => {
    const nodes = runDiscovery(['i1:3301', 'i2:3301', 'i3:3301'], ['i1:3301'], 1, 0);
    expect(nodes.get('i1:3301')!.done).toEqual({ kind: 'leader', address: 'i1:3301' });
    expect(nodes.get('i2:3301')!.done).toEqual({ kind: 'non_leader', leader: 'i1:3301' });
    expect(nodes.get('i3:3301')!.done).toEqual({ kind: 'non_leader', leader: 'i1:3301' });
  });

  it('an instance learns its own address only when its request reaches itself', () => {
    const d = new Discovery('mine', ['a:1', 'b:1']);
    expect(d.address).toBeUndefined();
    d.handleRequest({ tmpId: 'other', peers: ['c:1'] }, 'b:1');
    expect(d.address).toBeUndefined();
    d.handleRequest({ tmpId: 'mine', peers: [] }, 'b:1');
    expect(d.address).toBe('b:1');
    expect(d.state()).toEqual({ kind: 'election', tmpId: 'mine', peers: ['a:1', 'b:1', 'c:1'] });
  });

  it('elects exactly one bootstrapper for any peer list and delivery order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.constantFrom(0, 0.1, 0.5),
        (n, peerPicks, seed, failureRate) => {
          const addresses = Array.from({ length: n }, (_, i) => `h${i}:3301`);
          const peers = [...new Set(peerPicks.map((p) => addresses[p % n]!))];
          const nodes = runDiscovery(addresses, peers, seed, failureRate);
          const leaders = [...nodes.entries()].filter(([, d]) => d.done?.kind === 'leader');
          expect(leaders.length).toBe(1);
          const leader = leaders[0]![0];
          expect(leader).toBe([...peers].sort()[0]);
          for (const [address, d] of nodes) if (address !== leader) expect(d.done).toEqual({ kind: 'non_leader', leader });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
