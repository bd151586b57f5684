// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The web console: the desktop app's renderer (desktop/src/renderer, built
 * by Vite and copied into `pce/dist/console` by the build), served at `/`.
 * Owns: which static paths are public (`/`, `/index.html`, `/assets/*`,
 * `/favicon.svg`) and the security headers on them: a strict content
 * security policy (scripts and connections same-origin only; WebAssembly
 * for sql.js), no framing, no sniffing, no referrer.
 * Must not: serve anything outside the console directory, or under /api/.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_CSP } from '../../api/console-policy.js';

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONSOLE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'no-referrer')
    .header('Cache-Control', 'no-cache');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bulkhead PCE</title></head>
<body><h1>Bulkhead PCE</h1><p>The web console is not built into this PCE. Run <code>npm run build</code>
in the Bulkhead checkout, then restart the PCE. The API is at <code>/api/v2</code>
(<a href="/api/v2/openapi.json">OpenAPI document</a>).</p></body></html>
`;

/** Serve the console from `dir` (when it holds an index.html; otherwise a page that says how to build it). */
export async function installConsole(app: FastifyInstance, dir: string | undefined): Promise<void> {
  const built = !!dir && existsSync(join(dir, 'index.html'));
  if (built) await app.register(fastifyStatic, { root: dir, serve: false, index: false });
  const index = async (_req: unknown, reply: FastifyReply) => {
    secure(reply);
    if (!built) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  };
  const opts = { config: { public: true }, schema: { hide: true } };
  app.get('/', opts, index);
  app.get('/index.html', opts, index);
  app.get<{ Params: { '*': string } }>('/assets/*', opts, async (req, reply) => {
    secure(reply).header('Cache-Control', 'public, max-age=31536000, immutable'); // file names carry their hash
    if (!built) return reply.status(404).send({ code: 'BH_ERR_API_NOT_FOUND', message: 'the console is not built' });
    return reply.sendFile(join('assets', req.params['*']));
  });
  app.get('/favicon.svg', opts, async (_req, reply) => {
    secure(reply);
    if (!built) return reply.status(404).send({ code: 'BH_ERR_API_NOT_FOUND', message: 'the console is not built' });
    return reply.sendFile('favicon.svg');
  });
}
