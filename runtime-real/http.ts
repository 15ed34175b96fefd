/**
 * `--http-listen`: a small HTTP server (node:http) for machines.
 * - `GET /metrics`: Prometheus text format (metrics.ts);
 * - `GET /health`: 200 when the instance is Online, 503 otherwise, with a JSON body saying why;
 * - `GET /api/v1/cluster`: the instance and replicaset tables as JSON (cluster-info.ts).
 * Anything else is 404 (unknown path) or 405 (not GET/HEAD). Handlers never throw out: a failure
 * is a 500 with the message.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseHostPort } from './network.ts';

export interface HttpHandlers {
  metrics(): string;
  health(): { readonly healthy: boolean; readonly body: Readonly<Record<string, unknown>> };
  cluster(): Readonly<Record<string, unknown>> | null;
}

export interface HttpEndpoint {
  readonly address: string;
  close(): Promise<void>;
}

export class HttpListenError extends Error {
  override readonly name = 'HttpListenError';
}

export async function startHttp(address: string, handlers: HttpHandlers): Promise<HttpEndpoint> {
  const { host, port } = parseHostPort(address);
  const server: Server = createServer((request, response) => serve(handlers, request, response));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new HttpListenError(`cannot listen for HTTP on ${address}: ${error.code ?? error.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const actual = typeof bound === 'object' && bound !== null ? `${host}:${bound.port}` : address;
  return {
    address: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function serve(handlers: HttpHandlers, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?')[0]!;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  try {
    switch (path) {
      case '/metrics':
        send(response, 200, 'text/plain; version=0.0.4; charset=utf-8', handlers.metrics());
        return;
      case '/health': {
        const { healthy, body } = handlers.health();
        sendJson(response, healthy ? 200 : 503, body);
        return;
      }
      case '/api/v1/cluster': {
        const cluster = handlers.cluster();
        if (cluster === null) sendJson(response, 503, { error: 'the instance has not started its raft node yet' });
        else sendJson(response, 200, cluster);
        return;
      }
      default:
        sendJson(response, 404, { error: `no such endpoint: ${path}`, endpoints: ['/metrics', '/health', '/api/v1/cluster'] });
    }
  } catch (error) {
    sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(body, null, 2) + '\n');
}

function send(response: ServerResponse, status: number, contentType: string, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}
