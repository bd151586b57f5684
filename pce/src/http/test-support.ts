// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Test support for HTTP tests: a real SQLite store in a temporary
 * directory, the app over it, keys per role, and a small client over
 * `app.inject()`. Used only by `*.test.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApiKey, type Role } from '../store/api-keys.js';
import { openStore } from '../store/seed.js';
import type { Store } from '../store/store.js';
import { buildApp } from './app.js';

export interface TestPce {
  app: FastifyInstance;
  store: Store;
  dir: string;
  /** Call the API as a role (owner by default); `path` is under /api/v2. */
  call(
    method: string,
    path: string,
    body?: unknown,
    role?: Role | null,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The `Authorization` header of a role's key (for raw `app.inject` calls). */
  auth(role: Role): string;
  close(): Promise<void>;
}

export async function startTestPce(opts: { rateLimitPerMin?: number } = {}): Promise<TestPce> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-pce-test-'));
  const store = await openStore(join(dir, 'pce.sqlite'));
  const app = await buildApp({ store, rateLimitPerMin: opts.rateLimitPerMin ?? 100_000 });
  const keys = new Map<Role, string>();
  for (const role of ['owner', 'admin', 'ruleset_manager', 'read_only'] as const) {
    const { record, secret } = await createApiKey(store, '1', role, `test ${role}`);
    keys.set(role, 'Basic ' + Buffer.from(`${record.auth_username}:${secret}`).toString('base64'));
  }
  return {
    app,
    store,
    dir,
    async call(method, path, body, role = 'owner') {
      const res = await app.inject({
        method: method as 'GET',
        url: `/api/v2${path}`,
        headers: role ? { authorization: keys.get(role)! } : {},
        ...(body !== undefined ? { payload: body as object } : {}),
      });
      const text = res.body;
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    auth: (role) => keys.get(role)!,
    async close() {
      await app.close();
      await store.db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
