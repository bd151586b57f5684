// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ApiError } from './errors.js';
import { res, type KObject } from './resources.js';
import { Store, type EventType } from './store.js';

const NS = res('namespaces');
const POD = res('pods');
const RS = res('replicasets');

function withNs(store = new Store()): Store {
  store.create(NS, undefined, { metadata: { name: 'shop' } });
  return store;
}

const pod = (name: string, labels: Record<string, string> = {}, nodeName?: string): KObject => ({
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...(nodeName ? { nodeName } : {}) },
});

const apiError = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
};

describe('Store', () => {
  it('fills uid, resourceVersion and creationTimestamp, and bumps resourceVersion on every write', () => {
    const s = withNs();
    const a = s.create(POD, 'shop', pod('a'));
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.kind).toBe('Pod');
    const b = s.update(POD, 'shop', 'a', { ...a, metadata: { ...a.metadata, labels: { x: '1' } } });
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect(b.metadata.uid).toBe(a.metadata.uid);
  });

  it('answers with the status codes of the real API server', () => {
    const s = withNs();
    s.create(POD, 'shop', pod('a'));
    expect(apiError(() => s.create(POD, 'shop', pod('a'))).code).toBe(409);
    expect(apiError(() => s.create(POD, 'nowhere', pod('b'))).code).toBe(404);
    expect(apiError(() => s.create(POD, 'shop', pod('Bad_Name'))).code).toBe(422);
    expect(apiError(() => s.get(POD, 'shop', 'zzz')).toStatus()).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      code: 404,
    });
    const cur = s.get(POD, 'shop', 'a');
    s.update(POD, 'shop', 'a', { ...cur, metadata: { ...cur.metadata, labels: { v: '1' } } });
    expect(apiError(() => s.update(POD, 'shop', 'a', cur)).reason).toBe('Conflict');
  });

  it('lists with label and field selectors', () => {
    const s = withNs();
    s.create(POD, 'shop', pod('a', { app: 'web' }, 'n0'));
    s.create(POD, 'shop', pod('b', { app: 'db' }, 'n1'));
    s.create(POD, 'shop', pod('c', { app: 'web' }));
    const names = (q: Parameters<Store['list']>[1]): string[] => s.list(POD, q).items.map((p) => p.metadata.name);
    expect(names({ labelSelector: 'app=web' })).toEqual(['a', 'c']);
    expect(names({ fieldSelector: 'spec.nodeName=n1' })).toEqual(['b']);
    expect(names({ fieldSelector: 'spec.nodeName=' })).toEqual(['c']);
    expect(apiError(() => s.list(POD, { fieldSelector: 'spec.bogus=x' })).code).toBe(400);
  });

  it('watches from a resourceVersion, turns selection changes into ADDED/DELETED, and expires old versions', () => {
    const s = withNs(new Store({ window: 3 }));
    const start = s.list(POD).resourceVersion;
    s.create(POD, 'shop', pod('a', { app: 'web' }));
    const seen: [EventType, string][] = [];
    const w = s.watch(POD, { labelSelector: 'app=web' }, start, (t, o) => seen.push([t, o.metadata.name]));
    onTestFinished(() => w.stop());
    const a = s.get(POD, 'shop', 'a');
    s.update(POD, 'shop', 'a', { ...a, metadata: { ...a.metadata, labels: { app: 'db' } } });
    s.create(POD, 'shop', pod('b', { app: 'web' }));
    s.delete(POD, 'shop', 'b');
    expect(seen).toEqual([
      ['ADDED', 'a'],
      ['DELETED', 'a'],
      ['ADDED', 'b'],
      ['DELETED', 'b'],
    ]);
    expect(apiError(() => s.watch(POD, {}, start, () => undefined))).toMatchObject({ code: 410, reason: 'Expired' });
  });

  it('deletes dependents with their owner and a namespace with its contents', () => {
    const s = withNs();
    const rs = s.create(RS, 'shop', { metadata: { name: 'web-1' }, spec: { replicas: 1 } });
    const owned = pod('web-1-x');
    owned.metadata.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: rs.metadata.uid! },
    ];
    s.create(POD, 'shop', owned);
    s.create(POD, 'shop', pod('loner'));
    s.delete(RS, 'shop', 'web-1');
    expect(s.list(POD).items.map((p) => p.metadata.name)).toEqual(['loner']);
    s.delete(NS, undefined, 'shop');
    expect(s.list(POD).items).toEqual([]);
  });

  it('applies merge and JSON patches, keeping status out of the main resource', () => {
    const s = withNs();
    s.create(POD, 'shop', pod('a', { app: 'web' }));
    const p1 = s.patch(POD, 'shop', 'a', 'application/merge-patch+json', {
      metadata: { labels: { app: null, tier: 'x' } },
      status: { phase: 'Hacked' },
    });
    expect(p1.metadata.labels).toEqual({ tier: 'x' });
    expect(p1.status).toBeUndefined(); // status changes only through /status
    const p2 = s.patch(POD, 'shop', 'a', 'application/json-patch+json', [
      { op: 'add', path: '/metadata/labels/env', value: 'prod' },
    ]);
    expect(p2.metadata.labels).toEqual({ tier: 'x', env: 'prod' });
    expect(apiError(() => s.patch(POD, 'shop', 'a', 'text/plain', {})).code).toBe(415);
  });

  it('keeps its objects across a restart and answers 410 for watches from before it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-store-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.json');
    const s1 = withNs(new Store({ file }));
    const rv = s1.list(POD).resourceVersion;
    s1.create(POD, 'shop', pod('a'));
    s1.flush();
    const s2 = new Store({ file });
    expect(s2.get(POD, 'shop', 'a').metadata.name).toBe('a');
    expect(s2.resourceVersion).toBe(s1.resourceVersion);
    expect(apiError(() => s2.watch(POD, {}, rv, () => undefined)).code).toBe(410);
  });
});
