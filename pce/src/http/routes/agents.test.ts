// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The C-VEN's API: pairing, per-agent credentials, pod reports, policy fetch and push.
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentActivateResponse, AgentPolicy } from '../../api/agent.js';
import { startTestPce, type TestPce } from '../test-support.js';

let pce: TestPce;
beforeEach(async () => {
  pce = await startTestPce();
});
afterEach(async () => {
  await pce.close();
});

const basic = (user: string, secret: string) => 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');

async function asAgent(
  a: AgentActivateResponse,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await pce.app.inject({
    method: method as 'GET',
    url: `/api/v2${path}`,
    headers: { authorization: basic(a.auth_username, a.secret), ...headers },
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

interface Setup {
  cluster: { href: string; id: string };
  code: string;
  labels: Record<string, string>;
}

async function setup(): Promise<Setup> {
  const labels: Record<string, string> = {};
  for (const [k, v] of [
    ['role', 'node'],
    ['app', 'shop'],
    ['role', 'web'],
    ['role', 'db'],
    ['env', 'prod'],
  ]) {
    labels[`${k}=${v}`] = (await pce.call('POST', '/orgs/1/labels', { key: k, value: v })).body.href;
  }
  const c = (await pce.call('POST', '/orgs/1/container_clusters', { name: 'lab' })).body;
  const pp = (
    await pce.call('POST', '/orgs/1/pairing_profiles', {
      name: 'nodes',
      enforcement_mode: 'full',
      labels: [{ href: labels['role=node'] }],
    })
  ).body;
  const code = (await pce.call('POST', `${pp.href}/pairing_key`, {})).body.activation_code as string;
  return { cluster: { href: c.href, id: c.href.split('/').pop() }, code, labels };
}

async function activate(s: Setup, machineId: string, address: string): Promise<AgentActivateResponse> {
  const r = await pce.app.inject({
    method: 'POST',
    url: '/api/v2/orgs/1/agents/activate',
    payload: {
      activation_code: s.code,
      machine_id: machineId,
      hostname: `node-${machineId}`,
      interfaces: [{ name: 'eth0', address }],
      container_cluster_id: s.cluster.id,
    },
  });
  expect(r.statusCode).toBe(201);
  return JSON.parse(r.body) as AgentActivateResponse;
}

const pod = (uid: string, ns: string, name: string, ip: string, annotations: Record<string, string> = {}) => ({
  uid,
  namespace: ns,
  name,
  ip,
  labels: {},
  annotations,
  host_network: false,
});

describe('agents (C-VEN API)', () => {
  it('pairs with an activation code, making a managed node workload labelled by the pairing profile', async () => {
    const s = await setup();
    const bad = await pce.app.inject({
      method: 'POST',
      url: '/api/v2/orgs/1/agents/activate',
      payload: {
        activation_code: 'nope',
        machine_id: 'm',
        hostname: 'h',
        interfaces: [],
        container_cluster_id: s.cluster.id,
      },
    });
    expect(bad.statusCode).toBe(401);
    expect(JSON.parse(bad.body)[0].message).toContain('activation_code');
    const a = await activate(s, 'aaaa', '198.18.1.2');
    expect(a.auth_username).toMatch(/^agent_/);
    const w = (await pce.call('GET', a.workload_href)).body;
    expect(w).toMatchObject({ managed: true, enforcement_mode: 'full', machine_id: 'aaaa', hostname: 'node-aaaa' });
    expect(w.labels.map((l: { value: string }) => l.value)).toEqual(['node']);
    expect(w.agent.status.status).toBe('active');
    // Pairing the same machine again keeps its workload.
    const again = await activate(s, 'aaaa', '198.18.1.2');
    expect(again.workload_href).toBe(a.workload_href);
    expect((await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`)).status).toBe(401);
  });

  it('lets an agent act only for itself, and keeps agents off user routes and users off agent routes', async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const b = await activate(s, 'm2', '198.18.2.2');
    expect((await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`)).status).toBe(200);
    const other = await asAgent(a, 'GET', `/orgs/1/agents/${b.agent_id}/policy`);
    expect(other.status).toBe(403);
    expect(other.body[0].message).toContain('only for itself');
    expect((await asAgent(a, 'PUT', `/orgs/1/agents/${b.agent_id}/pods`, { pods: [] })).status).toBe(403);
    expect((await asAgent(a, 'GET', '/orgs/1/labels')).status).toBe(403);
    expect((await pce.call('GET', `/orgs/1/agents/${a.agent_id}/policy`)).status).toBe(403);
  });

  it('turns reported pods into container workloads when their namespace is managed, labelled per POLICY.md', async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const uid1 = '11111111-1111-4111-8111-111111111111';
    const uid2 = '22222222-2222-4222-8222-222222222222';
    const uidHost = '33333333-3333-4333-8333-333333333333';
    const report = {
      pods: [
        pod(uid1, 'shop', 'web-1', '198.18.100.10', { 'bulkhead.io/role': 'web' }),
        pod(uid2, 'shop', 'db-1', '198.18.100.11', { 'bulkhead.io/role': 'db', 'bulkhead.io/app': 'spoof' }),
        { ...pod(uidHost, 'kube-system', 'proxy', '198.18.1.2'), host_network: true },
      ],
    };
    const first = await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/pods`, report);
    expect(first.status).toBe(200);
    expect(first.body.pods[0]).toEqual({
      uid: uid1,
      container_workload: null,
      reason: 'namespace shop is not managed',
    });
    expect(first.body.pods[2].reason).toMatch(/^host network/);
    const profiles = (await pce.call('GET', `${s.cluster.href}/container_workload_profiles?namespace=shop`)).body;
    expect(profiles).toHaveLength(1);
    expect(profiles[0]).toMatchObject({ managed: false, linked: true });

    // Managing the namespace makes its pods container workloads at once.
    await pce.call('PUT', profiles[0].href, {
      managed: true,
      enforcement_mode: 'full',
      labels: [{ key: 'app', assignment: { href: s.labels['app=shop'] } }],
    });
    const cws = (await pce.call('GET', '/orgs/1/container_workloads?namespace=shop')).body;
    expect(cws.map((w: { name: string }) => w.name).sort()).toEqual(['db-1', 'web-1']);
    const db = cws.find((w: { name: string }) => w.name === 'db-1');
    expect(db.labels.map((l: { key: string; value: string }) => `${l.key}=${l.value}`)).toEqual([
      'app=shop',
      'role=db',
    ]);
    expect(db.node.href).toBe(a.workload_href);
    expect(db.enforcement_mode).toBe('full');

    // Level-based: a pod missing from the next report is gone.
    await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/pods`, { pods: [report.pods[0]] });
    const after = (await pce.call('GET', '/orgs/1/container_workloads?namespace=shop')).body;
    expect(after.map((w: { name: string }) => w.name)).toEqual(['web-1']);
  });

  it('serves the node policy with an ETag, and it names the pods the rules select', async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const ns = (await pce.call('POST', `${s.cluster.href}/container_workload_profiles`, { namespace: 'shop' })).body;
    await pce.call('PUT', ns.href, { managed: true, enforcement_mode: 'full' });
    await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/pods`, {
      pods: [
        pod('11111111-1111-4111-8111-111111111111', 'shop', 'web-1', '198.18.100.10', { 'bulkhead.io/role': 'web' }),
        pod('22222222-2222-4222-8222-222222222222', 'shop', 'db-1', '198.18.100.11', { 'bulkhead.io/role': 'db' }),
      ],
    });
    const before = await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`);
    expect(before.body.policy_version).toBe(0);
    const etag = before.headers.etag as string;
    expect(
      (await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`, undefined, { 'if-none-match': etag })).status,
    ).toBe(304);

    const rs = (await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', { name: 'shop' })).body;
    await pce.call('POST', `${rs.href}/sec_rules`, {
      providers: [{ label: { href: s.labels['role=db'] } }],
      consumers: [{ label: { href: s.labels['role=web'] } }],
      ingress_services: [{ port: 5432, proto: 6 }],
    });
    await pce.call('POST', '/orgs/1/sec_policy', { update_description: 'db' });
    const after = (await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`)).body as AgentPolicy;
    expect(after.policy_version).toBe(1);
    expect(after.version).not.toBe(etag.replaceAll('"', ''));
    const db = after.policy.workloads.find((w) => w.addresses.includes('198.18.100.11'))!;
    expect(db.inbound).toHaveLength(1);
    const peers = db.inbound[0]!.peers.map((n) => after.policy.sets[n]!.addresses).flat();
    expect(peers).toContain('198.18.100.10/32');
  });

  it("sends each workload's visibility level in the node policy, and refuses flow_off outside full naming the field", async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const ns = (await pce.call('POST', `${s.cluster.href}/container_workload_profiles`, { namespace: 'shop' })).body;
    // flow_off with the profile's current mode (idle): refused, naming what was sent.
    const off = await pce.call('PUT', ns.href, { managed: true, visibility_level: 'flow_off' });
    expect(off.status).toBe(406);
    expect(off.body[0].message).toMatch(
      /^visibility_level: flow_off is allowed only with enforcement_mode full \(here idle\)/,
    );
    expect(
      (await pce.call('PUT', ns.href, { managed: true, enforcement_mode: 'full', visibility_level: 'flow_drops' }))
        .status,
    ).toBe(204);
    await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/pods`, {
      pods: [pod('11111111-1111-4111-8111-111111111111', 'shop', 'web-1', '198.18.100.10')],
    });
    const levels = async () =>
      Object.fromEntries(
        ((await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`)).body as AgentPolicy).policy.workloads.map(
          (w) => [w.addresses[0], w.visibility_level],
        ),
      );
    expect(await levels()).toEqual({ '198.18.1.2': 'flow_summary', '198.18.100.10': 'flow_drops' });
    expect((await pce.call('PUT', ns.href, { visibility_level: 'flow_off' })).status).toBe(204);
    expect((await levels())['198.18.100.10']).toBe('flow_off');
    // Leaving full while flow_off: refused, naming enforcement_mode; both in one request is fine.
    const leave = await pce.call('PUT', ns.href, { enforcement_mode: 'visibility_only' });
    expect(leave.status).toBe(406);
    expect(leave.body[0].message).toMatch(
      /^enforcement_mode: visibility_only cannot go with visibility_level flow_off/,
    );
    expect(
      (await pce.call('PUT', ns.href, { enforcement_mode: 'visibility_only', visibility_level: 'flow_summary' }))
        .status,
    ).toBe(204);
    expect((await levels())['198.18.100.10']).toBe('flow_summary');
    // The node's own level comes from its workload (set from its pairing profile).
    expect((await pce.call('PUT', a.workload_href, { visibility_level: 'flow_drops' })).status).toBe(204);
    expect((await levels())['198.18.1.2']).toBe('flow_drops');
    // Pairing profiles and unmanaged workloads are held to the same rule.
    const pp = await pce.call('POST', '/orgs/1/pairing_profiles', {
      name: 'quiet',
      enforcement_mode: 'visibility_only',
      visibility_level: 'flow_off',
    });
    expect(pp.status).toBe(406);
    expect(pp.body[0].message).toMatch(/^visibility_level: flow_off/);
    const um = await pce.call('POST', '/orgs/1/workloads', { name: 'db', visibility_level: 'flow_off' });
    expect(um.status).toBe(406);
    expect(um.body[0].message).toMatch(
      /^visibility_level: flow_off is allowed only with enforcement_mode full \(here idle\)/,
    );
    const bad = await pce.call('PUT', ns.href, { visibility_level: 'flow_loud' });
    expect(bad.status).toBe(406);
    expect(JSON.stringify(bad.body)).toContain('visibility_level');
  });

  it('pushes the new policy over the stream as soon as it changes', async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const ns = (await pce.call('POST', `${s.cluster.href}/container_workload_profiles`, { namespace: 'shop' })).body;
    await pce.call('PUT', ns.href, { managed: true, enforcement_mode: 'full' });
    await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/pods`, {
      pods: [
        pod('11111111-1111-4111-8111-111111111111', 'shop', 'db-1', '198.18.100.11', { 'bulkhead.io/role': 'db' }),
      ],
    });
    await pce.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (pce.app.server.address() as { port: number }).port;
    const events: AgentPolicy[] = [];
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/api/v2/orgs/1/agents/${a.agent_id}/policy/stream`,
      headers: { authorization: basic(a.auth_username, a.secret) },
    });
    let buf = '';
    req.on('response', (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)) as AgentPolicy);
        }
      });
    });
    req.end();
    try {
      await waitFor(() => events.length === 1);
      const rs = (await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', { name: 'shop' })).body;
      await pce.call('POST', `${rs.href}/sec_rules`, {
        providers: [{ label: { href: s.labels['role=db'] } }],
        consumers: [{ actors: 'ams' }],
        ingress_services: [{ port: 5432, proto: 6 }],
      });
      // Draft edits change nothing the agent enforces: no event.
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toHaveLength(1);
      await pce.call('POST', '/orgs/1/sec_policy', {});
      await waitFor(() => events.length === 2);
      expect(events[1]!.policy_version).toBe(1);
      expect(events[1]!.policy.workloads[0]!.inbound).toHaveLength(1);
    } finally {
      req.destroy();
    }
  });

  it('records status on the workload, tampering as an event, and unpairing', async () => {
    const s = await setup();
    const a = await activate(s, 'm1', '198.18.1.2');
    const st = await asAgent(a, 'PUT', `/orgs/1/agents/${a.agent_id}/status`, {
      applied_version: 'abc',
      sync_state: 'applied',
      errors: [],
      firewall_rule_count: 12,
    });
    expect(st.status).toBe(204);
    const w = (await pce.call('GET', a.workload_href)).body;
    expect(w.agent.status).toMatchObject({
      security_policy_sync_state: 'applied',
      applied_version: 'abc',
      firewall_rule_count: 12,
    });
    const ev = await asAgent(a, 'POST', `/orgs/1/agents/${a.agent_id}/events`, {
      event_type: 'agent.tampering',
      severity: 'warning',
      info: { netns: 'node', table: 'inet bulkhead' },
    });
    expect(ev.status).toBe(201);
    const events = (await pce.call('GET', '/orgs/1/events?event_type=agent.tampering')).body;
    expect(events[0].created_by.agent.href).toBe(a.agent_href);
    expect((await asAgent(a, 'POST', `/orgs/1/agents/${a.agent_id}/unpair`)).status).toBe(204);
    expect((await asAgent(a, 'GET', `/orgs/1/agents/${a.agent_id}/policy`)).status).toBe(401);
    expect((await pce.call('GET', a.workload_href)).body).toMatchObject({ managed: false, enforcement_mode: 'idle' });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
