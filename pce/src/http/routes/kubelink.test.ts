// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Kubelink's API against a real PCE (real SQLite): who may report, what is refused, what follows.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestPce, type TestPce } from '../test-support.js';

let pce: TestPce;
beforeEach(async () => {
  pce = await startTestPce();
});
afterEach(async () => {
  await pce.close();
});

const basic = (user: string, secret: string) => 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');

async function cluster(name: string): Promise<{ id: string; href: string; token: string }> {
  const c = (await pce.call('POST', '/orgs/1/container_clusters', { name })).body;
  return { id: c.href.split('/').pop(), href: c.href, token: c.container_cluster_token };
}

async function asKubelink(c: { id: string; token: string }, method: string, path: string, body?: unknown, as = c) {
  const res = await pce.app.inject({
    method: method as 'PUT',
    url: `/api/v2/orgs/1/container_clusters/${c.id}/kubelink${path}`,
    headers: { authorization: basic(`kubelink_${as.id}`, as.token) },
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

const ns = (name: string) => ({ name, labels: {}, annotations: {} });
const node = (name: string, machine: string) => ({
  name,
  pod_cidr: '198.19.0.0/24',
  machine_id: machine,
  addresses: [],
  labels: {},
});

describe('Kubelink API', () => {
  it("reports only for its own cluster: another cluster's token gets 403, a wrong token 401, an API key 403", async () => {
    const a = await cluster('a');
    const b = await cluster('b');
    expect((await asKubelink(a, 'PUT', '/objects/namespaces/x', ns('x'))).status).toBe(204);
    expect((await asKubelink(a, 'PUT', '/objects/namespaces/x', ns('x'), b)).status).toBe(403);
    expect((await asKubelink(a, 'PUT', '/objects/namespaces/x', ns('x'), { ...a, token: 'wrong' })).status).toBe(401);
    const withKey = await pce.call('PUT', `/orgs/1/container_clusters/${a.id}/kubelink/objects/namespaces/x`, ns('x'));
    expect(withKey.status).toBe(403);
    // And a cluster token cannot read or write anything else.
    const other = await pce.app.inject({
      method: 'GET',
      url: '/api/v2/orgs/1/labels',
      headers: { authorization: basic(`kubelink_${a.id}`, a.token) },
    });
    expect(other.statusCode).toBe(403);
  });

  it('refuses a malformed object with 406 naming the field, and a key that does not match the body', async () => {
    const a = await cluster('a');
    const bad = await asKubelink(a, 'PUT', '/objects/pods/u1', { uid: 'u1', namespace: 'n', name: 'p' });
    expect(bad.status).toBe(406);
    expect(bad.body[0].message).toMatch(/^body\/node_name|^body\//);
    const mismatch = await asKubelink(a, 'PUT', '/objects/namespaces/y', ns('x'));
    expect(mismatch.status).toBe(406);
    expect(mismatch.body[0].message).toContain('the path says y');
    expect((await asKubelink(a, 'PUT', '/objects/widgets/x', {})).status).toBe(406);
  });

  it('namespaces become profiles, unlinked when a full list no longer has them', async () => {
    const a = await cluster('a');
    await asKubelink(a, 'PUT', '/objects/namespaces', { items: [ns('shop'), ns('dev')] });
    const profiles = async () =>
      (
        (await pce.call('GET', `${a.href}/container_workload_profiles`)).body as {
          namespace: string | null;
          linked: boolean;
        }[]
      )
        .filter((p) => p.namespace)
        .map((p) => `${p.namespace}:${p.linked}`)
        .sort();
    expect(await profiles()).toEqual(['dev:true', 'shop:true']);
    const r = await asKubelink(a, 'PUT', '/objects/namespaces', { items: [ns('shop')] });
    expect(r.body).toEqual({ kind: 'namespaces', stored: 0, removed: 1 });
    expect(await profiles()).toEqual(['dev:false', 'shop:true']);
  });

  it("nodes fill the cluster's nodes, and a machine id on two nodes is an error that names them", async () => {
    const a = await cluster('a');
    await asKubelink(a, 'PUT', '/objects/nodes', { items: [node('n0', 'm1'), node('n1', 'm1')] });
    await asKubelink(a, 'PUT', '/status', {
      kubelink_version: '0.1.0',
      manager_type: 'Kubernetes v1.30.0',
      pod_networks: ['198.19.0.0/20'],
      service_networks: [],
      synced: true,
    });
    const c = (await pce.call('GET', a.href)).body;
    expect(c.online).toBe(true);
    expect(c.manager_type).toBe('Kubernetes v1.30.0');
    expect(c.nodes.map((n: { name: string }) => n.name)).toEqual(['n0', 'n1']);
    expect(c.errors[0].message).toContain('nodes n0, n1 report the same machine id m1');
  });
});
