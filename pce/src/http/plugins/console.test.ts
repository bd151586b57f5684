// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The web console's static files: public, with the security headers; nothing outside the
// console directory; a page that says how to build it when it is not built; the API unchanged.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/seed.js';
import type { Store } from '../../store/store.js';
import { buildApp } from '../app.js';

describe('the web console', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bh-console-'));
    store = await openStore(join(dir, 'pce.sqlite'));
    mkdirSync(join(dir, 'console', 'assets'), { recursive: true });
    writeFileSync(
      join(dir, 'console', 'index.html'),
      '<!doctype html><script type="module" src="./assets/app.js"></script>',
    );
    writeFileSync(join(dir, 'console', 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not for you');
  });
  afterAll(async () => {
    await store.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the console without credentials, with a strict content security policy', async () => {
    const app = await buildApp({ store, consoleDir: join(dir, 'console') });
    const r = await app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect(r.body).toContain('<script');
    expect(r.headers['content-security-policy']).toMatch(/script-src 'self' 'wasm-unsafe-eval'/);
    expect(r.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    const js = await app.inject({ method: 'GET', url: '/assets/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    for (const url of ['/assets/../../secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/secret.txt'])
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBeGreaterThanOrEqual(400);
    expect((await app.inject({ method: 'GET', url: '/assets/nope.js' })).statusCode).toBe(404);
    // The API stays authenticated.
    expect((await app.inject({ method: 'GET', url: '/api/v2/orgs/1/labels' })).statusCode).toBe(401);
    await app.close();
  });

  it('says how to build the console when it is not built', async () => {
    const app = await buildApp({ store, consoleDir: join(dir, 'nowhere') });
    const r = await app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('npm run build');
    await app.close();
  });
});
