/** Starts the iproto server on the real TCP network (RealNetwork) with the in-memory backend. */

import { IprotoServer } from '../../core/iproto/server.ts';
import { createRealLog } from '../../runtime-real/log.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { createRealRandom } from '../../runtime-real/random.ts';
import { MemoryBackend } from './memory-backend.ts';

export interface RealServer {
  readonly server: IprotoServer;
  readonly backend: MemoryBackend;
  readonly host: string;
  readonly port: number;
  close(): void;
}

export async function startRealServer(backend = new MemoryBackend()): Promise<RealServer> {
  const env = { net: new RealNetwork(), random: createRealRandom(), log: createRealLog({ level: 'warn', pretty: true }) };
  const server = await IprotoServer.listen(env, { address: '127.0.0.1:0', backend });
  const port = Number(server.address.slice(server.address.lastIndexOf(':') + 1));
  return { server, backend, host: '127.0.0.1', port, close: () => server.close() };
}
