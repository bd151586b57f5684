// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Flow ingest and the explorer against a real PCE (real SQLite); the snapshot read back with sql.js.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { AgentActivateResponse } from '../../api/agent.js';
import type { AgentFlow, TrafficFlow } from '../../api/traffic.js';
import { writeSnapshot } from '../../traffic/snapshot.js';
import { startTestPce, type TestPce } from '../test-support.js';

let pce: TestPce;
beforeEach(async () => {
  pce = await startTestPce();
});
afterEach(async () => {
  await pce.close();
});

const basic = (user: string, secret: string) => 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');

async function pairedAgent(): Promise<AgentActivateResponse> {
  const c = (await pce.call('POST', '/orgs/1/container_clusters', { name: 'lab' })).body;
  const pp = (
    await pce.call('POST', '/orgs/1/pairing_profiles', { name: 'nodes', enforcement_mode: 'visibility_only' })
  ).body;
  const code = (await pce.call('POST', `${pp.href}/pairing_key`, {})).body.activation_code as string;
  const r = await pce.app.inject({
    method: 'POST',
    url: '/api/v2/orgs/1/agents/activate',
    payload: {
      activation_code: code,
      machine_id: 'm-1',
      hostname: 'n0',
      interfaces: [{ name: 'eth0', address: '198.18.0.10' }],
      container_cluster_id: c.href.split('/').pop(),
    },
  });
  return JSON.parse(r.body) as AgentActivateResponse;
}

const flow = (o: Partial<AgentFlow>): AgentFlow => ({
  src_ip: '198.18.0.10',
  dst_ip: '198.18.0.250',
  port: 80,
  proto: 6,
  decision: 'allowed',
  reported_by: 'source',
  num_connections: 3,
  bytes: 1200,
  packets: 12,
  first_seen: new Date(Date.now() - 5000).toISOString(),
  last_seen: new Date().toISOString(),
  ...o,
});

async function upload(a: AgentActivateResponse, batch_id: string, flows: AgentFlow[], lost?: number) {
  const r = await pce.app.inject({
    method: 'POST',
    url: `/api/v2/orgs/1/agents/${a.agent_id}/flows`,
    headers: { authorization: basic(a.auth_username, a.secret) },
    payload: { batch_id, flows, ...(lost !== undefined ? { lost } : {}) },
  });
  return { status: r.statusCode, body: JSON.parse(r.body) };
}

const everything = () => ({
  start_date: new Date(Date.now() - 3_600_000).toISOString(),
  end_date: new Date(Date.now() + 60_000).toISOString(),
  sources: { include: [[]], exclude: [] },
  destinations: { include: [[]], exclude: [] },
  services: { include: [], exclude: [] },
  policy_decisions: [],
});

async function explore(q: object): Promise<TrafficFlow[]> {
  const job = await pce.call('POST', '/orgs/1/traffic_flows/async_queries', q);
  expect(job.status).toBe(202);
  expect((await pce.call('GET', job.body.href)).body.status).toBe('completed');
  return (await pce.call('GET', job.body.result)).body as TrafficFlow[];
}

describe('traffic', () => {
  it('counts a batch sent twice once, and merges both ends of a connection into one flow with the stricter decision', async () => {
    const a = await pairedAgent();
    expect((await upload(a, 'batch-0001', [flow({})])).body.duplicate).toBe(false);
    expect((await upload(a, 'batch-0001', [flow({})])).body.duplicate).toBe(true);
    await upload(a, 'batch-0002', [
      flow({ reported_by: 'destination', decision: 'potentially_blocked', num_connections: 3 }),
    ]);
    const flows = await explore(everything());
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      num_connections: 3,
      policy_decision: 'potentially_blocked',
      service: { port: 80, proto: 6 },
    });
    expect(flows[0]!.src.workload?.name).toBe('n0'); // enriched: the address is the node's
  });

  it('filters by IP address, service and decision; an agent cannot upload for another agent', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0003', [flow({}), flow({ dst_ip: '198.18.0.251', port: 22, decision: 'blocked' })]);
    expect(await explore({ ...everything(), policy_decisions: ['blocked'] })).toHaveLength(1);
    expect(
      await explore({ ...everything(), services: { include: [{ port: 80, proto: 6 }], exclude: [] } }),
    ).toHaveLength(1);
    expect(
      await explore({
        ...everything(),
        destinations: { include: [[{ ip_address: { value: '198.18.0.251' } }]], exclude: [] },
      }),
    ).toHaveLength(1);
    expect(
      await explore({
        ...everything(),
        destinations: { include: [[]], exclude: [{ ip_address: { value: '198.18.0.251' } }] },
      }),
    ).toHaveLength(1);
    const other = await pce.app.inject({
      method: 'POST',
      url: '/api/v2/orgs/1/agents/someone-else/flows',
      headers: { authorization: basic(a.auth_username, a.secret) },
      payload: { batch_id: 'batch-0004', flows: [] },
    });
    expect(other.statusCode).toBe(403);
    const bad = await pce.call('POST', '/orgs/1/traffic_flows/async_queries', {
      ...everything(),
      start_date: 'yesterday',
    });
    expect(bad.status).toBe(406);
  });

  it('writes a snapshot that sql.js opens, holding the flows and their workloads', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0005', [flow({})]);
    const flows = await explore(everything());
    const dir = mkdtempSync(join(tmpdir(), 'bh-snap-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'snap.sqlite');
    writeSnapshot(file, everything() as never, flows);
    const initSqlJs = createRequire(import.meta.url)('sql.js') as (
      o?: object,
    ) => Promise<{ Database: new (b: Uint8Array) => { exec: (q: string) => { values: unknown[][] }[] } }>;
    const SQL = await initSqlJs();
    const db = new SQL.Database(readFileSync(file));
    expect(db.exec('SELECT count(*) FROM flows')[0]!.values[0]![0]).toBe(1);
    expect(db.exec("SELECT value FROM snapshot_meta WHERE key = 'schema_version'")[0]!.values[0]![0]).toBe('1');
    expect(db.exec('SELECT name FROM workloads')[0]!.values[0]![0]).toBe('n0');
  });

  it('serves a query result as a snapshot file, the console export, that sql.js opens', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0105', [flow({}), flow({ port: 443 })]);
    const job = await pce.call('POST', '/orgs/1/traffic_flows/async_queries', everything());
    expect((await pce.call('GET', `${job.body.href}/snapshot`, undefined, null)).status).toBe(401);
    const ok = await pce.app.inject({
      method: 'GET',
      url: `/api/v2${job.body.href}/snapshot`,
      headers: { authorization: pce.auth('read_only') },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('application/vnd.sqlite3');
    expect(String(ok.headers['content-disposition'])).toMatch(/attachment; filename="bulkhead-flows-.*\.sqlite"/);
    const bytes = ok.rawPayload;
    const initSqlJs = createRequire(import.meta.url)('sql.js') as (
      o?: object,
    ) => Promise<{ Database: new (b: Uint8Array) => { exec: (q: string) => { values: unknown[][] }[] } }>;
    const db = new (await initSqlJs()).Database(bytes);
    expect(db.exec('SELECT count(*) FROM flows')[0]!.values[0]![0]).toBe(2);
    expect(
      JSON.parse(String(db.exec("SELECT value FROM snapshot_meta WHERE key = 'query'")[0]!.values[0]![0])),
    ).toMatchObject({
      policy_decisions: [],
    });
    expect((await pce.call('GET', '/orgs/1/traffic_flows/async_queries/nope/snapshot')).status).toBe(404);
  });

  it('re-decides a result under the draft: a rule added but not provisioned changes draft_policy_decision only', async () => {
    const a = await pairedAgent();
    const node = (await pce.call('GET', '/orgs/1/workloads')).body.find(
      (w: { hostname: string }) => w.hostname === 'n0',
    );
    const role = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'edge' })).body.href;
    await pce.call('PUT', node.href, { labels: [{ href: role }] });
    await upload(a, 'batch-0006', [flow({ decision: 'potentially_blocked' })]);
    const job = (await pce.call('POST', '/orgs/1/traffic_flows/async_queries', everything())).body;
    const any = (await pce.call('GET', '/orgs/1/sec_policy/draft/ip_lists')).body.find((l: { name: string }) =>
      l.name.startsWith('Any'),
    ).href;
    const rs = (await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', { name: 'egress', scopes: [[]] })).body
      .href;
    const rule = await pce.call('POST', `${rs}/sec_rules`, {
      enabled: true,
      providers: [{ ip_list: { href: any } }],
      consumers: [{ label: { href: role } }],
      ingress_services: [{ port: 80, proto: 6 }],
      resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
      unscoped_consumers: false,
    });
    expect(rule.status).toBe(201);
    expect((await pce.call('PUT', `${job.href}/update_rules`, {})).status).toBe(202);
    const flows = (await pce.call('GET', job.result)).body as TrafficFlow[];
    expect(flows[0]).toMatchObject({ policy_decision: 'potentially_blocked', draft_policy_decision: 'allowed' });
  });

  it('groups flows into app groups with connection counts, ports and the mix of decisions', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0007', [flow({}), flow({ port: 443, decision: 'blocked', num_connections: 2 })]);
    const map = (await pce.call('GET', '/orgs/1/traffic_flows/app_groups?keys=role')).body;
    expect(map.nodes.map((n: { id: string }) => n.id)).toEqual(['ip=198.18.0.250', 'role=-']);
    expect(map.edges).toEqual([
      expect.objectContaining({
        source: 'role=-',
        target: 'ip=198.18.0.250',
        num_connections: 5,
        decisions: { allowed: 3, blocked: 2 },
        ports: [
          { port: 80, proto: 6 },
          { port: 443, proto: 6 },
        ],
      }),
    ]);
    const page = await pce.call('POST', '/orgs/1/traffic_flows/traffic_analysis_queries?offset=1', {
      ...everything(),
      max_results: 1,
    });
    expect(page.body).toHaveLength(1);
  });

  it('folds a flow into the row of its merged decision instead of failing on a duplicate', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0008', [
      flow({ reported_by: 'source', decision: 'blocked' }),
      flow({ reported_by: 'destination', decision: 'potentially_blocked' }),
    ]);
    const r = await upload(a, 'batch-0009', [flow({ reported_by: 'source', decision: 'blocked' })]);
    expect(r.status).toBe(200);
    const flows = await explore(everything());
    expect(flows.map((f) => f.policy_decision)).toEqual(['blocked']);
  });

  it('keeps a connection its source blocked apart from a later one that got through (mode changed to visibility_only)', async () => {
    const a = await pairedAgent();
    await upload(a, 'batch-0010', [flow({ reported_by: 'source', decision: 'blocked', num_connections: 1 })]);
    await upload(a, 'batch-0011', [
      flow({ reported_by: 'destination', decision: 'potentially_blocked', num_connections: 1 }),
    ]);
    await upload(a, 'batch-0012', [
      flow({ reported_by: 'source', decision: 'potentially_blocked', num_connections: 1 }),
    ]);
    const flows = await explore(everything());
    expect(flows.map((f) => `${f.policy_decision}:${f.num_connections}`).sort()).toEqual([
      'blocked:1',
      'potentially_blocked:1',
    ]);
  });
});

describe('explorer filters by label group and IP list (active policy)', () => {
  /** role=edge on the node n0 (198.18.0.10), a nested label group over it, an IP list with an exclusion. */
  async function provisioned() {
    const a = await pairedAgent();
    const node = (await pce.call('GET', '/orgs/1/workloads')).body.find(
      (w: { hostname: string }) => w.hostname === 'n0',
    );
    const edge = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'edge' })).body.href as string;
    await pce.call('PUT', node.href, { labels: [{ href: edge }] });
    const inner = (
      await pce.call('POST', '/orgs/1/sec_policy/draft/label_groups', {
        name: 'edges',
        key: 'role',
        labels: [{ href: edge }],
      })
    ).body.href as string;
    const outer = (
      await pce.call('POST', '/orgs/1/sec_policy/draft/label_groups', {
        name: 'all-edges',
        key: 'role',
        sub_groups: [{ href: inner }],
      })
    ).body.href as string;
    const list = (
      await pce.call('POST', '/orgs/1/sec_policy/draft/ip_lists', {
        name: 'outside',
        ip_ranges: [
          { from_ip: '198.18.0.248', to_ip: '198.18.0.255' },
          { from_ip: '198.18.0.251', exclusion: true },
        ],
      })
    ).body.href as string;
    expect((await pce.call('POST', '/orgs/1/sec_policy', { update_description: 'explorer' })).status).toBe(201);
    // Seen after the node got its label (flows carry the identities of their time).
    const first_seen = new Date().toISOString();
    await upload(a, 'batch-lg-01', [
      flow({ first_seen }), // n0 → .250
      flow({ first_seen, dst_ip: '198.18.0.251' }), // n0 → .251 (excluded from the list)
      flow({ first_seen, src_ip: '198.18.0.99', dst_ip: '198.18.0.10', reported_by: 'destination' }), // outside → n0
    ]);
    return { inner, outer, list };
  }
  const ends = (fs: TrafficFlow[]) => fs.map((f) => `${f.src.ip}>${f.dst.ip}`).sort();

  it('includes and excludes by a label group (nested groups flattened) and by an IP list less its exclusions', async () => {
    const { outer, list } = await provisioned();
    expect(
      ends(await explore({ ...everything(), sources: { include: [[{ label_group: { href: outer } }]], exclude: [] } })),
    ).toEqual(['198.18.0.10>198.18.0.250', '198.18.0.10>198.18.0.251']);
    expect(
      ends(await explore({ ...everything(), sources: { include: [[]], exclude: [{ label_group: { href: outer } }] } })),
    ).toEqual(['198.18.0.99>198.18.0.10']);
    expect(
      ends(await explore({ ...everything(), destinations: { include: [[{ ip_list: { href: list } }]], exclude: [] } })),
    ).toEqual(['198.18.0.10>198.18.0.250']);
    expect(
      ends(await explore({ ...everything(), destinations: { include: [[]], exclude: [{ ip_list: { href: list } }] } })),
    ).toEqual(['198.18.0.10>198.18.0.251', '198.18.0.99>198.18.0.10']);
    // The active form of the href names the same objects; AND within an inner list.
    const activeList = list.replace('/draft/', '/active/');
    expect(
      ends(
        await explore({
          ...everything(),
          sources: { include: [[{ label_group: { href: outer } }]], exclude: [] },
          destinations: { include: [[{ ip_list: { href: activeList } }]], exclude: [] },
        }),
      ),
    ).toEqual(['198.18.0.10>198.18.0.250']);
  });

  it('refuses a label group or IP list that is not provisioned, naming the actor', async () => {
    await provisioned();
    const draftOnly = (
      await pce.call('POST', '/orgs/1/sec_policy/draft/label_groups', { name: 'later', key: 'role', labels: [] })
    ).body.href as string;
    const r = await pce.call('POST', '/orgs/1/traffic_flows/async_queries', {
      ...everything(),
      destinations: {
        include: [[{ label: { href: '/orgs/1/labels/1' } }, { label_group: { href: draftOnly } }]],
        exclude: [],
      },
    });
    expect(r.status).toBe(406);
    expect(JSON.stringify(r.body)).toContain('destinations.include[0][1].label_group.href');
    const r2 = await pce.call('POST', '/orgs/1/traffic_flows/async_queries', {
      ...everything(),
      sources: { include: [[]], exclude: [{ ip_list: { href: '/orgs/1/sec_policy/draft/ip_lists/999' } }] },
    });
    expect(r2.status).toBe(406);
    expect(JSON.stringify(r2.body)).toContain('sources.exclude[0].ip_list.href');
  });
});

describe('settings/traffic (flow retention)', () => {
  it('shows the bounds and the stored count, prunes the oldest at once when the size bound is lowered, and refuses bad values naming them', async () => {
    const a = await pairedAgent();
    const at = (minAgo: number) => new Date(Date.now() - minAgo * 60_000).toISOString();
    await upload(
      a,
      'batch-ret-01',
      [5, 4, 3, 2, 1].map((m) => flow({ port: 1000 + m, first_seen: at(m), last_seen: at(m) })),
    );
    expect((await pce.call('GET', '/orgs/1/settings/traffic')).body).toEqual({
      href: '/orgs/1/settings/traffic',
      flow_retention_days: 30,
      max_stored_flows: 5_000_000,
      stored_flows: 5,
      flows_lost: 0,
      flows_lost_by_agent: [],
    });
    expect((await pce.call('PUT', '/orgs/1/settings/traffic', { max_stored_flows: 2 })).status).toBe(204);
    expect((await explore(everything())).map((f) => f.service.port).sort()).toEqual([1001, 1002]);
    const now = (await pce.call('GET', '/orgs/1/settings/traffic')).body;
    expect(now).toMatchObject({ max_stored_flows: 2, stored_flows: 2 });
    // What an agent could not record shows here, per agent (a retried batch counts once).
    await upload(a, 'batch-ret-02', [], 7);
    await upload(a, 'batch-ret-02', [], 7);
    await upload(a, 'batch-ret-03', [], 2);
    expect((await pce.call('GET', '/orgs/1/settings/traffic')).body).toMatchObject({
      flows_lost: 9,
      flows_lost_by_agent: [{ agent: { href: `/orgs/1/agents/${a.agent_id}` }, lost: 9 }],
    });
    // GET → PUT round trip is accepted (stored_flows and the loss are read-only and ignored).
    expect((await pce.call('PUT', '/orgs/1/settings/traffic', now)).status).toBe(204);
    for (const [body, field] of [
      [{ max_stored_flows: 0 }, 'max_stored_flows'],
      [{ flow_retention_days: 'long' }, 'flow_retention_days'],
      [{ max_flows: 10 }, 'max_flows'],
    ] as const) {
      const r = await pce.call('PUT', '/orgs/1/settings/traffic', body);
      expect(r.status).toBe(406);
      expect(JSON.stringify(r.body)).toContain(field);
    }
  });
});

describe('identities as they were at the flow time', () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));
  const byPort = (fs: TrafficFlow[]) => new Map(fs.map((f) => [f.service.port, f]));
  const roles = (w: TrafficFlow['src']['workload']) => (w?.labels ?? []).map((l) => l.value);

  it('keeps stored flows as enriched at ingest when the workload is relabelled later', async () => {
    const a = await pairedAgent();
    const node = (await pce.call('GET', '/orgs/1/workloads')).body.find(
      (w: { hostname: string }) => w.hostname === 'n0',
    );
    const edge = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'edge' })).body.href;
    const core = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'core' })).body.href;
    await pce.call('PUT', node.href, { labels: [{ href: edge }] });
    await tick();
    await upload(a, 'batch-id-01', [flow({ port: 80, first_seen: new Date().toISOString() })]);
    await tick();
    await pce.call('PUT', node.href, { labels: [{ href: core }] });
    await tick();
    await upload(a, 'batch-id-02', [flow({ port: 81, first_seen: new Date().toISOString() })]);
    const flows = byPort(await explore(everything()));
    expect(roles(flows.get(80)!.src.workload)).toEqual(['edge']); // stored before the relabel: unchanged
    expect(roles(flows.get(81)!.src.workload)).toEqual(['core']);
  });

  it('enriches a batch that arrives late with who held the addresses at the flow time, not at arrival', async () => {
    const a = await pairedAgent();
    const node = (await pce.call('GET', '/orgs/1/workloads')).body.find(
      (w: { hostname: string }) => w.hostname === 'n0',
    );
    const edge = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'edge' })).body.href;
    const core = (await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'core' })).body.href;
    await pce.call('PUT', node.href, { labels: [{ href: edge }] });
    const oldDb = (
      await pce.call('POST', '/orgs/1/workloads', {
        name: 'old-db',
        interfaces: [{ name: 'eth0', address: '198.18.0.250' }],
      })
    ).body.href as string;
    await tick();
    const then = new Date().toISOString(); // the agent saw the connection here, then lost the PCE
    await tick();
    // Meanwhile: the node is relabelled, and the address passes to another workload.
    await pce.call('PUT', node.href, { labels: [{ href: core }] });
    expect((await pce.call('DELETE', oldDb)).status).toBe(204);
    await pce.call('POST', '/orgs/1/workloads', {
      name: 'new-db',
      interfaces: [{ name: 'eth0', address: '198.18.0.250' }],
    });
    await tick();
    await upload(a, 'batch-late-01', [
      flow({ port: 80, first_seen: then, last_seen: then }),
      flow({ port: 81, first_seen: new Date().toISOString() }),
    ]);
    const flows = byPort(await explore(everything()));
    expect(roles(flows.get(80)!.src.workload)).toEqual(['edge']);
    expect(flows.get(80)!.dst.workload?.name).toBe('old-db');
    expect(roles(flows.get(81)!.src.workload)).toEqual(['core']);
    expect(flows.get(81)!.dst.workload?.name).toBe('new-db');
  });

  it('takes a workload that got the address just after the flow time (grace), but not one from minutes later', async () => {
    const a = await pairedAgent();
    const t = Date.now();
    await pce.call('POST', '/orgs/1/workloads', {
      name: 'late',
      interfaces: [{ name: 'eth0', address: '198.18.0.98' }],
    });
    await tick();
    await upload(a, 'batch-grace-01', [
      flow({ port: 90, dst_ip: '198.18.0.98', first_seen: new Date(t - 3000).toISOString() }),
      flow({ port: 91, dst_ip: '198.18.0.98', first_seen: new Date(t - 120_000).toISOString() }),
    ]);
    const flows = byPort(await explore({ ...everything(), start_date: new Date(t - 3_600_000).toISOString() }));
    expect(flows.get(90)!.dst.workload?.name).toBe('late');
    expect(flows.get(91)!.dst.workload).toBeUndefined();
  });
});
