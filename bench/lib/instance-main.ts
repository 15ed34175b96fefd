/**
 * A bare instance process for benchmarks: the real instance program on the real runtime, without
 * the CLI's conveniences (so the benchmark measures the node, not the launcher).
 *   node --import tsx bench/lib/instance-main.ts <listen> <peer> <data-dir> <instance-id> [wal-mode]
 */

import { instanceProgram } from '../../core/instance.ts';
import { DEFAULT_TUNING } from '../../core/node/options.ts';
import type { WalMode } from '../../core/box/wal.ts';
import { createRealEnv } from '../../runtime-real/env.ts';

const [listen, peer, dataDir, instanceId, walMode] = process.argv.slice(2);
if (listen === undefined || peer === undefined || dataDir === undefined || instanceId === undefined) {
  process.stderr.write('usage: instance-main.ts <listen> <peer> <data-dir> <instance-id> [wal-mode]\n');
  process.exit(2);
}
const env = createRealEnv({ dataDir, logLevel: 'warn', pretty: false });
await instanceProgram({
  clusterId: 'bench',
  instanceId,
  replicasetId: undefined,
  listen,
  advertise: listen,
  peers: peer.split(','),
  failureDomain: {},
  initReplicationFactor: 1,
  walMode: (walMode ?? 'write') as WalMode,
  tuning: DEFAULT_TUNING,
})(env);
