// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `buildApp()`: the PCE's HTTP application, apart from `main.ts` so tests
 * drive it with `app.inject()` against a real database.
 *
 * Order (as Fastify's demo app): external plugins (OpenAPI, rate limit),
 * app plugins (errors, authentication), then routes.
 * Owns: what is public (health, the OpenAPI document, later the console's
 * static files, plugins/console.ts) and that everything else is authenticated and authorised.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import type { Store } from '../store/store.js';
import { installErrorHandling } from './plugins/errors.js';
import { installAuth, rateLimitKey } from './plugins/auth.js';
import { installConsole } from './plugins/console.js';

/** Rate-limit keys of agent and Kubelink credentials (plugins/auth.ts `rateLimitKey`). */
const MACHINE_KEY = /^key:(agent_|kubelink_)/;
import { PolicyEngine } from './policy-engine.js';
import { registerRoutes } from './routes/index.js';

export interface AppOptions {
  store: Store;
  /** Requests a minute allowed per API key (or per address without one). Default 500. */
  rateLimitPerMin?: number;
  /** TLS key and certificate; plain HTTP when absent (tests). */
  https?: { key: string; cert: string };
  logger?: FastifyServerOptions['logger'];
  /** The built web console (desktop renderer) served at `/`; absent: `/` says how to build it. */
  consoleDir?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    engine: PolicyEngine;
  }
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    ...(opts.https ? { https: opts.https } : {}),
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    bodyLimit: 16 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  }) as unknown as FastifyInstance;
  app.decorate('store', opts.store);
  app.decorate('engine', new PolicyEngine(opts.store));
  app.addHook('onSend', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });
  // Any successful write may change what policy compiles to (except those a route marks policy-neutral: traffic).
  app.addHook('onResponse', async (req, reply) => {
    if (
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      reply.statusCode < 400 &&
      !req.routeOptions.config.policyNeutral
    )
      app.engine.invalidate();
  });

  // External plugins.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Bulkhead PCE',
        version: '0.1.0',
        description: 'Policy compute engine. Shapes follow the Illumio Core REST API v2.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      security: [{ basicAuth: [] }],
    },
  });
  await app.register(rateLimit, {
    // Agents and Kubelink report machine-paced state (every pod, every object): a per-credential
    // budget 20 times a person's, still bounded, so a runaway agent cannot starve the PCE.
    max: (_req, key) => (opts.rateLimitPerMin ?? 500) * (MACHINE_KEY.test(key) ? 20 : 1),
    timeWindow: 60_000,
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      code: 'BH_ERR_API_RATE_LIMITED',
      message: `rate limit of ${ctx.max} requests a minute reached; retry after ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });

  // App plugins.
  installErrorHandling(app);
  installAuth(app);

  // Routes.
  await registerRoutes(app);
  await installConsole(app, opts.consoleDir);
  app.get('/api/v2/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  return app;
}
