// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The identity log against the real SQLite store: appended by document writes, read at a time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identityAt } from './identities.js';
import { openStore } from './seed.js';
import type { Store } from './store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bh-identities-'));
  store = await openStore(join(dir, 'pce.sqlite'));
  await store.insertDoc(
    'container_clusters',
    'c',
    { href: '/orgs/1/container_clusters/c', name: 'c' },
    { token_hash: 'x' },
  );
});
afterEach(async () => {
  await (store.db as { destroy(): Promise<void> }).destroy();
  rmSync(dir, { recursive: true, force: true });
});

const cw = (id: string, ip: string, role: string) => ({
  href: `/orgs/1/container_workloads/${id}`,
  name: id,
  namespace: 'shop',
  labels: [{ href: `/orgs/1/labels/${role}`, key: 'role', value: role }],
  interfaces: [{ name: 'eth0', address: ip }],
});
const at = async (ip: string, t: string) => (await identityAt(store.db, ip, t))?.labels.map((l) => l.value);
const tick = () => new Promise((r) => setTimeout(r, 5));
const now = () => new Date().toISOString();

describe('identity log', () => {
  it('answers who held an address at a time across a relabel, an address change and a delete', async () => {
    await store.insertDoc('container_workloads', 'a', cw('a', '198.19.0.5', 'web'), { cluster_id: 'c' });
    await tick();
    const t1 = now();
    await tick();
    await store.updateDoc('container_workloads', 'a', cw('a', '198.19.0.5', 'api'));
    await tick();
    const t2 = now();
    await tick();
    await store.updateDoc('container_workloads', 'a', cw('a', '198.19.0.6', 'api'));
    await tick();
    const t3 = now();
    await tick();
    await store.deleteDoc('container_workloads', 'a');
    await tick();
    const t4 = now();
    expect(await at('198.19.0.5', t1)).toEqual(['web']);
    expect(await at('198.19.0.5', t2)).toEqual(['api']);
    expect(await at('198.19.0.5', t3)).toBeUndefined(); // moved to .6
    expect(await at('198.19.0.6', t3)).toEqual(['api']);
    expect(await at('198.19.0.6', t4)).toBeUndefined(); // deleted
  });

  it('ranks a container workload above a workload holding the same address', async () => {
    await store.insertDoc('workloads', 'w', { ...cw('w', '198.19.0.7', 'node'), href: '/orgs/1/workloads/w' });
    await store.insertDoc('container_workloads', 'p', cw('p', '198.19.0.7', 'web'), { cluster_id: 'c' });
    await tick();
    expect(await at('198.19.0.7', now())).toEqual(['web']);
  });

  it('records the identity a document had before the log existed, from its creation, on its first change', async () => {
    // Written as before migration 006: straight into the table, no log rows.
    const created = new Date(Date.now() - 60_000).toISOString();
    await store.db
      .insertInto('container_workloads')
      .values({
        id: 'old',
        body: JSON.stringify(cw('old', '198.19.0.8', 'web')),
        created_at: created,
        updated_at: created,
        cluster_id: 'c',
      })
      .execute();
    const before = new Date(Date.now() - 30_000).toISOString();
    await store.updateDoc('container_workloads', 'old', cw('old', '198.19.0.8', 'api'));
    await tick();
    expect(await at('198.19.0.8', before)).toEqual(['web']);
    expect(await at('198.19.0.8', now())).toEqual(['api']);
    // Heartbeat-style rewrites with the same identity append nothing.
    const rows = async () => (await store.db.selectFrom('identity_log').selectAll().execute()).length;
    const n = await rows();
    await store.updateDoc('container_workloads', 'old', { ...cw('old', '198.19.0.8', 'api'), online: true });
    expect(await rows()).toBe(n);
  });
});
