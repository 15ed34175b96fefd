/** The simulator's random streams: sfc32 seeded from the run's seed path. */
export { Sfc32Random as SimRandom } from '../core/lib/sfc32-random.ts';
