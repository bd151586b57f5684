// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The agent's local health listener (default 127.0.0.1:9102): `/healthz`
 * (the process runs), `/readyz` (the applied policy is the PCE's, or the
 * saved one is applied while the PCE is away) and `/metrics` (Prometheus
 * text). Nothing else; it answers GET only and never shows secrets.
 */
import { createServer, type Server } from 'node:http';
import type { Agent } from './agent.js';

export function startHealthServer(agent: Agent, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const body = JSON.stringify({
        ready: agent.ready,
        sync_state: agent.syncState,
        applied_version: agent.appliedVersion,
      });
      res.writeHead(agent.ready ? 200 : 503, { 'content-type': 'application/json' }).end(body + '\n');
    } else if (path === '/metrics') {
      void agent.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': agent.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(Object.assign(new Error(`--health-listen ${host}:${port}: ${err.message}`), { exitCode: 1 })),
    );
    server.listen(port, host, () => resolve(server));
  });
}
