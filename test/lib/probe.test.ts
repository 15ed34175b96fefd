import { describe, expect, it } from 'vitest';
import { probe, PROBES, takeProbeHits } from '../../core/lib/probe.ts';

describe('coverage probes', () => {
  it('counts hits per probe, reports every declared probe and starts over when taken', () => {
    takeProbeHits();
    probe('wal.write_failed');
    probe('wal.write_failed');
    probe('join.redirected');
    const hits = takeProbeHits();
    expect(Object.keys(hits)).toEqual([...PROBES]);
    expect(hits['wal.write_failed']).toBe(2);
    expect(hits['join.redirected']).toBe(1);
    expect(PROBES.filter((name) => hits[name] === 0)).toHaveLength(PROBES.length - 2);
    expect(Object.values(takeProbeHits()).every((n) => n === 0)).toBe(true);
  });

  it('names are unique', () => {
    expect(new Set(PROBES).size).toBe(PROBES.length);
  });
});
