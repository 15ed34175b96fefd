/**
 * The membership program as a real process (the first program proven on both runtimes):
 *   tsx runtime-real/programs/membership-main.ts --listen 127.0.0.1:4001 --peer 127.0.0.1:4001 --data-dir /tmp/m1
 * Prints `membership alive <addresses>` on stdout whenever its view of live members changes.
 */

import { Command } from 'commander';
import { DEFAULT_MEMBERSHIP_OPTIONS, membershipProgram } from '../../core/membership/program.ts';
import { createRealEnv } from '../env.ts';

const options = new Command('membership')
  .requiredOption('--listen <address>')
  .requiredOption('--peer <addresses>', 'comma-separated seed addresses')
  .requiredOption('--data-dir <dir>')
  .option('--fail-after-ms <ms>', 'declare a member dead after this much silence', '1500')
  .parse()
  .opts<{ listen: string; peer: string; dataDir: string; failAfterMs: string }>();

const env = createRealEnv({ dataDir: options.dataDir, logLevel: 'info', pretty: false });
let lastView = '';
await membershipProgram(
  {
    ...DEFAULT_MEMBERSHIP_OPTIONS,
    gossipIntervalMs: 100,
    failAfterMs: Number(options.failAfterMs),
    listen: options.listen,
    seeds: options.peer.split(','),
  },
  {
    started: (node) => {
      process.stdout.write(`membership started ${node.address} generation ${node.generation}\n`);
      setInterval(() => {
        const view = node.state.alive(node.nowMs()).join(',');
        if (view !== lastView) process.stdout.write(`membership alive ${view}\n`);
        lastView = view;
      }, 50);
    },
  },
)(env);
