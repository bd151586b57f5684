// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The lab API server as Kubelink sees it: @kubernetes/client-node's
// informer and generic object client against the real HTTPS server (in this
// process, on loopback), for every kind the lab serves. Unprivileged.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { renderKubeconfig } from '../kubeconfig.js';
import { res } from './resources.js';
import { buildApiServer } from './server.js';
import { Store } from './store.js';
import { ensureTls } from './tls.js';

let dir = '';
let store: Store;
let cutWatches: () => void;
let close: () => Promise<void> = async () => undefined;
let kc: k8s.KubeConfig;
let objects: k8s.KubernetesObjectApi;

afterAll(async () => {
  await close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bh-informer-'));
  const tls = await ensureTls(dir, []);
  store = new Store();
  store.create(res('namespaces'), undefined, { metadata: { name: 'default' } });
  const server = buildApiServer({ store, token: 'bh-test-token', tls, bookmarkMs: 200 });
  cutWatches = server.cutWatches;
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  close = () => server.app.close();
  const port = (server.app.server.address() as { port: number }).port;
  kc = new k8s.KubeConfig();
  kc.loadFromString(renderKubeconfig('test', `https://127.0.0.1:${port}`, tls.ca, 'bh-test-token'));
  objects = k8s.KubernetesObjectApi.makeApiClient(kc);
});

interface Kind {
  plural: string;
  path: string;
  list: () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  make: (name: string) => k8s.KubernetesObject & Record<string, unknown>;
}

const core = (): k8s.CoreV1Api => kc.makeApiClient(k8s.CoreV1Api);
const KINDS: Kind[] = [
  {
    plural: 'namespaces',
    path: '/api/v1/namespaces',
    list: () => core().listNamespace(),
    make: (n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }),
  },
  {
    plural: 'nodes',
    path: '/api/v1/nodes',
    list: () => core().listNode(),
    make: (n) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: n }, spec: { podCIDR: '198.19.0.0/24' } }),
  },
  {
    plural: 'pods',
    path: '/api/v1/pods',
    list: () => core().listPodForAllNamespaces(),
    make: (n) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: n, namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    }),
  },
  {
    plural: 'services',
    path: '/api/v1/services',
    list: () => core().listServiceForAllNamespaces(),
    make: (n) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: n, namespace: 'default' },
      spec: { ports: [{ port: 80 }] },
    }),
  },
  {
    plural: 'endpointslices',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    list: () => kc.makeApiClient(k8s.DiscoveryV1Api).listEndpointSliceForAllNamespaces(),
    make: (n) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: n, namespace: 'default' },
      addressType: 'IPv4',
      endpoints: [],
      ports: [],
    }),
  },
  {
    plural: 'networkpolicies',
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    list: () => kc.makeApiClient(k8s.NetworkingV1Api).listNetworkPolicyForAllNamespaces(),
    make: (n) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: n, namespace: 'default' },
      spec: { podSelector: {} },
    }),
  },
];

async function until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('lab API server with @kubernetes/client-node', () => {
  it.each(KINDS.map((k) => [k.plural, k] as const))(
    'informer lists and watches %s, survives a cut watch stream and relists on 410',
    async (_plural, kind) => {
      const events: string[] = [];
      let lists = 0;
      const informer = k8s.makeInformer(kc, kind.path, () => {
        lists++;
        return kind.list();
      });
      onTestFinished(() => informer.stop());
      const name = (o: k8s.KubernetesObject): string => o.metadata?.name ?? '?';
      informer.on('add', (o) => events.push(`add ${name(o)}`));
      informer.on('update', (o) => events.push(`update ${name(o)}`));
      informer.on('delete', (o) => events.push(`delete ${name(o)}`));
      // The documented client pattern: restart after an error.
      informer.on('error', () => setTimeout(() => void informer.start().catch(() => undefined), 50));

      await objects.create(kind.make('bh-a'));
      await informer.start();
      await until('list of bh-a', () => events.includes('add bh-a'));

      await objects.create(kind.make('bh-b'));
      await until('watch add', () => events.includes('add bh-b'));
      await objects.patch({
        ...kind.make('bh-b'),
        metadata: { ...kind.make('bh-b').metadata, labels: { changed: 'yes' } },
      });
      await until('watch update', () => events.includes('update bh-b'));
      await objects.delete(kind.make('bh-a'));
      await until('watch delete', () => events.includes('delete bh-a'));

      cutWatches();
      await objects.create(kind.make('bh-c'));
      await until('add after the stream was cut', () => events.includes('add bh-c'));

      const listsBefore = lists;
      store.compact();
      cutWatches(); // the informer resumes from a version the server forgot: 410, then a relist
      await until('relist after 410', () => lists > listsBefore);
      await objects.create(kind.make('bh-d'));
      await until('add after the relist', () => events.includes('add bh-d'));
      expect(
        informer
          .list()
          .map(name)
          .filter((n) => n.startsWith('bh-'))
          .sort(),
      ).toEqual(['bh-b', 'bh-c', 'bh-d']);
      for (const n of ['bh-b', 'bh-c', 'bh-d']) await objects.delete(kind.make(n));
    },
  );

  it('answers a wrong token with a 401 Status', async () => {
    const bad = new k8s.KubeConfig();
    bad.loadFromString(
      renderKubeconfig(
        'bad',
        kc.getCurrentCluster()!.server,
        Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString(),
        'wrong',
      ),
    );
    await expect(bad.makeApiClient(k8s.CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
  });
});
