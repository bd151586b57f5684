// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// HTTP API tests: app.inject() against a real SQLite file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestPce, type TestPce } from './test-support.js';

let pce: TestPce;
beforeEach(async () => {
  pce = await startTestPce();
});
afterEach(async () => {
  await pce.close();
});

const label = async (key: string, value: string): Promise<string> => {
  const r = await pce.call('POST', '/orgs/1/labels', { key, value });
  expect(r.status).toBe(201);
  return r.body.href as string;
};

const workload = async (name: string, labels: string[], address: string): Promise<string> => {
  const r = await pce.call('POST', '/orgs/1/workloads', {
    name,
    hostname: name,
    labels: labels.map((href) => ({ href })),
    interfaces: [{ name: 'eth0', address }],
  });
  expect(r.status).toBe(201);
  return r.body.href as string;
};

describe('public routes and authentication', () => {
  it('answers health and the OpenAPI document without credentials, and nothing else', async () => {
    expect((await pce.call('GET', '/health', undefined, null)).status).toBe(200);
    const doc = await pce.call('GET', '/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toContain('/api/v2/orgs/{org}/labels');
    const r = await pce.call('GET', '/orgs/1/labels', undefined, null);
    expect(r.status).toBe(401);
    expect(r.body[0].token).toBe('authentication_required');
  });

  it('refuses a wrong secret with 401 and records an authentication failure event', async () => {
    const res = await pce.app.inject({
      method: 'GET',
      url: '/api/v2/orgs/1/labels',
      headers: { authorization: 'Basic ' + Buffer.from('api_nobody:wrong').toString('base64') },
    });
    expect(res.statusCode).toBe(401);
    const events = await pce.call('GET', '/orgs/1/events?event_type=user.authenticate');
    expect(events.body).toHaveLength(1);
    expect(events.body[0]).toMatchObject({ status: 'failure', severity: 'warning' });
    expect(JSON.stringify(events.body)).not.toContain('wrong');
  });

  it('lets a read_only key read (200) but not write (403)', async () => {
    expect((await pce.call('GET', '/orgs/1/labels', undefined, 'read_only')).status).toBe(200);
    const w = await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'x' }, 'read_only');
    expect(w.status).toBe(403);
    expect(w.body[0].message).toContain('read_only');
  });

  it('lets a ruleset_manager edit the draft but not provision', async () => {
    const rs = await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', { name: 'rm' }, 'ruleset_manager');
    expect(rs.status).toBe(201);
    expect((await pce.call('POST', '/orgs/1/sec_policy', {}, 'ruleset_manager')).status).toBe(403);
  });

  it('returns 429 past the rate limit', async () => {
    const limited = await startTestPce({ rateLimitPerMin: 3 });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await limited.call('GET', '/orgs/1/labels')).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('labels', () => {
  it('creates labels with hrefs, refuses a duplicate key/value and an undefined key with 406', async () => {
    const href = await label('role', 'web');
    expect(href).toMatch(/^\/orgs\/1\/labels\/\d+$/);
    const dup = await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'web' });
    expect(dup.status).toBe(406);
    expect(dup.body[0].message).toContain('role=web already exists');
    const bad = await pce.call('POST', '/orgs/1/labels', { key: 'tier', value: 'x' });
    expect(bad.status).toBe(406);
    expect(bad.body[0].message).toMatch(/^key: label key "tier" is not defined/);
  });

  it('names a missing or unknown field in the 406', async () => {
    const missing = await pce.call('POST', '/orgs/1/labels', { key: 'role' });
    expect(missing.status).toBe(406);
    expect(missing.body).toEqual([{ token: 'input_validation_error', message: 'value: is required' }]);
    const extra = await pce.call('POST', '/orgs/1/labels', { key: 'role', value: 'a', colour: 'red' });
    expect(extra.status).toBe(406);
    expect(extra.body[0].message).toBe('colour: is not a known field');
  });

  it('filters by key and value, counts in X-Total-Count and honours max_results', async () => {
    await label('role', 'web');
    await label('role', 'db');
    await label('env', 'prod');
    const r = await pce.call('GET', '/orgs/1/labels?key=role&max_results=1');
    expect(r.headers['x-total-count']).toBe('2');
    expect(r.body).toHaveLength(1);
    const v = await pce.call('GET', '/orgs/1/labels?key=role&value=we');
    expect(v.body.map((l: { value: string }) => l.value)).toEqual(['web']);
  });

  it('updates with PUT (204) and refuses to change the key', async () => {
    const href = await label('env', 'prod');
    expect((await pce.call('PUT', href.replace('/orgs', '/orgs'), { value: 'production' })).status).toBe(204);
    expect((await pce.call('GET', href)).body.value).toBe('production');
    const k = await pce.call('PUT', href, { key: 'loc' });
    expect(k.status).toBe(406);
  });

  it('allows custom keys up to 20 in all', async () => {
    for (let i = 0; i < 16; i++)
      expect((await pce.call('POST', '/orgs/1/label_dimensions', { key: `k${i}`, display_name: `K${i}` })).status).toBe(
        201,
      );
    const over = await pce.call('POST', '/orgs/1/label_dimensions', { key: 'k99', display_name: 'K99' });
    expect(over.status).toBe(406);
    expect(over.body[0].message).toContain('at most 20');
    expect((await pce.call('POST', '/orgs/1/labels', { key: 'k3', value: 'v' })).status).toBe(201);
  });
});

describe('policy: rulesets, provisioning, policy_check', () => {
  it('builds a ruleset, provisions version 1, reads it back, and answers policy_check', async () => {
    const web = await label('role', 'web');
    const db = await label('role', 'db');
    const shop = await label('app', 'shop');
    const prod = await label('env', 'prod');
    const w1 = await workload('web-1', [web, shop, prod], '198.18.5.10');
    const w2 = await workload('db-1', [db, shop, prod], '198.18.5.20');
    const rs = await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', {
      name: 'shop',
      scopes: [[{ label: { href: shop } }, { label: { href: prod } }]],
    });
    expect(rs.status).toBe(201);
    const allow = await pce.call('POST', `${rs.body.href}/sec_rules`, {
      providers: [{ label: { href: db } }],
      consumers: [{ label: { href: web } }],
      ingress_services: [{ port: 5432, proto: 6 }],
    });
    expect(allow.status).toBe(201);
    expect(allow.body.href).toMatch(/\/sec_policy\/draft\/rule_sets\/\d+\/sec_rules\/\d+$/);
    const deny = await pce.call('POST', `${rs.body.href}/deny_rules`, {
      providers: [{ label: { href: db } }],
      consumers: [{ actors: 'ams' }],
      ingress_services: [{ port: 22, proto: 6 }],
      unscoped_consumers: true,
    });
    expect(deny.status).toBe(201);

    const pending = await pce.call('GET', '/orgs/1/sec_policy/pending');
    expect(pending.body.rule_sets).toEqual([{ href: rs.body.href, name: 'shop', update_type: 'create' }]);
    // Nothing active yet.
    expect((await pce.call('GET', '/orgs/1/sec_policy/active/rule_sets')).body).toEqual([]);

    const v = await pce.call('POST', '/orgs/1/sec_policy', { update_description: 'first' });
    expect(v.status).toBe(201);
    expect(v.body).toMatchObject({ href: '/orgs/1/sec_policy/1', version: 1, commit_message: 'first' });
    expect(v.body.object_counts.rule_sets).toBe(1);

    const active = await pce.call('GET', '/orgs/1/sec_policy/active/rule_sets');
    expect(active.body).toHaveLength(1);
    expect(active.body[0].href).toMatch(/^\/orgs\/1\/sec_policy\/active\/rule_sets\/\d+$/);
    expect(active.body[0].rules[0].href).toContain('/sec_policy/active/');
    const v1 = await pce.call('GET', '/orgs/1/sec_policy/1/rule_sets');
    expect(v1.body[0].name).toBe('shop');
    expect((await pce.call('GET', '/orgs/1/sec_policy/1')).body.version).toBe(1);
    expect((await pce.call('GET', '/orgs/1/sec_policy/pending')).body.rule_sets).toEqual([]);

    const check = async (src: string, dst: string, port: number) =>
      (
        await pce.call('POST', '/orgs/1/sec_policy/active/policy_check', {
          source: { workload: { href: src } },
          destination: { workload: { href: dst } },
          service: { port, proto: 6 },
        })
      ).body;
    const ok = await check(w1, w2, 5432);
    expect(ok).toMatchObject({
      verdict: 'allow',
      decision: 'allowed',
      rules: [{ href: active.body[0].rules[0].href.replace('/active/', '/draft/') }],
    });
    expect((await check(w2, w1, 5432)).verdict).toBe('no_rule');
    expect((await check(w1, w2, 22)).verdict).toBe('deny');
    // By IP and by labels too.
    const byIp = await pce.call('POST', '/orgs/1/sec_policy/active/policy_check', {
      source: { ip: '198.18.5.10' },
      destination: { labels: [{ href: db }, { href: shop }, { href: prod }] },
      service: { port: 5432, proto: 6 },
    });
    expect(byIp.body.verdict).toBe('allow');

    // Events: the provision is recorded.
    const events = await pce.call('GET', '/orgs/1/events?event_type=sec_policy.create');
    expect(events.body[0].info.version).toBe(1);
  });

  it('refuses a rule with empty consumers, a provider container_host, or no services (406 naming the field)', async () => {
    const web = await label('role', 'web');
    const rs = (await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', { name: 'x' })).body.href;
    const empty = await pce.call('POST', `${rs}/sec_rules`, {
      providers: [{ label: { href: web } }],
      consumers: [],
      ingress_services: [{ port: 80, proto: 6 }],
    });
    expect(empty.status).toBe(406);
    expect(empty.body[0].message).toMatch(/^consumers: must not be empty/);
    const host = await pce.call('POST', `${rs}/sec_rules`, {
      providers: [{ actors: 'container_host' }],
      consumers: [{ actors: 'ams' }],
      ingress_services: [{ port: 80, proto: 6 }],
    });
    expect(host.body[0].message).toMatch(/^providers\[0\]\.actors/);
    const noSvc = await pce.call('POST', `${rs}/sec_rules`, {
      providers: [{ label: { href: web } }],
      consumers: [{ actors: 'ams' }],
      ingress_services: [],
    });
    expect(noSvc.body[0].message).toMatch(/^ingress_services: must not be empty/);
    const badRef = await pce.call('POST', `${rs}/sec_rules`, {
      providers: [{ label: { href: '/orgs/1/labels/999' } }],
      consumers: [{ actors: 'ams' }],
      ingress_services: [{ port: 80, proto: 6 }],
    });
    expect(badRef.body[0].message).toBe('providers[0].label.href: label /orgs/1/labels/999 does not exist');
    const range = await pce.call('POST', `${rs}/sec_rules`, {
      providers: [{ label: { href: web } }],
      consumers: [{ actors: 'ams' }],
      ingress_services: [{ port: 90, to_port: 80, proto: 6 }],
    });
    expect(range.body[0].message).toBe('ingress_services[0].to_port: 80 is below port 90');
  });

  it('refuses to write a version other than the draft', async () => {
    const r = await pce.call('POST', '/orgs/1/sec_policy/active/services', {
      name: 's',
      service_ports: [{ proto: 6, port: 1 }],
    });
    expect(r.status).toBe(406);
    expect(r.body[0].token).toBe('policy_version_read_only');
  });

  it('refuses to delete a referenced label, naming the ruleset', async () => {
    const db = await label('role', 'db');
    const rs = await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', {
      name: 'uses-db',
      scopes: [[{ label: { href: db } }]],
    });
    const del = await pce.call('DELETE', db);
    expect(del.status).toBe(406);
    expect(del.body[0].message).toContain(rs.body.href);
    expect(del.body[0].message).toContain('uses-db');
    expect((await pce.call('GET', db)).status).toBe(200);
  });

  it('provisions a change_subset with the objects it depends on, and reverts the rest', async () => {
    const web = await label('role', 'web');
    const svc = await pce.call('POST', '/orgs/1/sec_policy/draft/services', {
      name: 'pg',
      service_ports: [{ port: 5432, proto: 6 }],
    });
    const lg = await pce.call('POST', '/orgs/1/sec_policy/draft/label_groups', {
      name: 'webs',
      key: 'role',
      labels: [{ href: web }],
    });
    const rs = await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', {
      name: 'a',
      rules: [
        {
          providers: [{ label_group: { href: lg.body.href } }],
          consumers: [{ actors: 'ams' }],
          ingress_services: [{ href: svc.body.href }],
        },
      ],
    });
    expect(rs.status).toBe(201);
    const other = await pce.call('POST', '/orgs/1/sec_policy/draft/ip_lists', {
      name: 'corp',
      ip_ranges: [{ from_ip: '198.18.0.0/16' }],
    });
    const v = await pce.call('POST', '/orgs/1/sec_policy', { change_subset: { rule_sets: [{ href: rs.body.href }] } });
    expect(v.status).toBe(201);
    expect(v.body.object_counts).toMatchObject({ rule_sets: 1, services: 2, label_groups: 1, ip_lists: 1 });
    const pending = (await pce.call('GET', '/orgs/1/sec_policy/pending')).body;
    expect(pending.ip_lists).toEqual([{ href: other.body.href, name: 'corp', update_type: 'create' }]);
    expect((await pce.call('PUT', '/orgs/1/sec_policy/delete', {})).status).toBe(204);
    expect((await pce.call('GET', '/orgs/1/sec_policy/pending')).body.ip_lists).toEqual([]);
    expect((await pce.call('GET', other.body.href)).status).toBe(404);
    const none = await pce.call('POST', '/orgs/1/sec_policy', {});
    expect(none.status).toBe(406);
    expect(none.body[0].token).toBe('nothing_to_provision');
  });

  it('refuses to provision deleting a service that an active rule still uses', async () => {
    const svc = await pce.call('POST', '/orgs/1/sec_policy/draft/services', {
      name: 'http',
      service_ports: [{ port: 80, proto: 6 }],
    });
    await pce.call('POST', '/orgs/1/sec_policy/draft/rule_sets', {
      name: 'r',
      rules: [
        { providers: [{ actors: 'ams' }], consumers: [{ actors: 'ams' }], ingress_services: [{ href: svc.body.href }] },
      ],
    });
    expect((await pce.call('POST', '/orgs/1/sec_policy', {})).status).toBe(201);
    const del = await pce.call('DELETE', svc.body.href);
    expect(del.status).toBe(406);
    expect(del.body[0].token).toBe('object_in_use');
  });

  it('has the built-in All Services and Any IP list, active from the start and read-only', async () => {
    const all = await pce.call('GET', `/orgs/1/sec_policy/active/services?name=${encodeURIComponent('All Services')}`);
    expect(all.body).toHaveLength(1);
    expect(all.body[0].service_ports).toEqual([{ proto: -1 }]);
    const any = await pce.call(
      'GET',
      `/orgs/1/sec_policy/active/ip_lists?name=${encodeURIComponent('Any (0.0.0.0/0 and ::/0)')}`,
    );
    expect(any.body).toHaveLength(1);
    const put = await pce.call('PUT', all.body[0].href.replace('/active/', '/draft/'), { name: 'x' });
    expect(put.status).toBe(406);
    expect((await pce.call('GET', '/orgs/1/sec_policy/pending')).body.services).toEqual([]);
  });
});

describe('inventory', () => {
  it('creates a container cluster whose token is shown once, with a default profile', async () => {
    const c = await pce.call('POST', '/orgs/1/container_clusters', { name: 'lab' });
    expect(c.status).toBe(201);
    expect(c.body.container_cluster_token).toMatch(/^[0-9a-f]{8}_[0-9a-f]{64}$/);
    const again = await pce.call('GET', c.body.href);
    expect(again.body.container_cluster_token).toBeUndefined();
    const profiles = await pce.call('GET', `${c.body.href}/container_workload_profiles`);
    expect(profiles.body).toHaveLength(1);
    expect(profiles.body[0]).toMatchObject({ namespace: null, managed: false, name: 'Default Profile' });
    await pce.call('PUT', profiles.body[0].href, { managed: true, enforcement_mode: 'visibility_only' });
    const byName = await pce.call('POST', `${c.body.href}/container_workload_profiles`, { name: 'shop' });
    expect(byName.status).toBe(201);
    expect(byName.body).toMatchObject({
      namespace: 'shop',
      linked: false,
      managed: true,
      enforcement_mode: 'visibility_only',
    });
    const clash = await pce.call('POST', `${c.body.href}/container_workload_profiles`, { namespace: 'shop' });
    expect(clash.status).toBe(406);
  });

  it('validates profile label assignments against the key', async () => {
    const web = await label('role', 'web');
    const c = (await pce.call('POST', '/orgs/1/container_clusters', { name: 'k' })).body;
    const bad = await pce.call('POST', `${c.href}/container_workload_profiles`, {
      namespace: 'a',
      labels: [{ key: 'app', assignment: { href: web } }],
    });
    expect(bad.status).toBe(406);
    expect(bad.body[0].message).toBe('labels[0].assignment: label role=web does not have key app');
  });

  it('bulk-creates, bulk-updates and bulk-deletes workloads item by item', async () => {
    const web = await label('role', 'web');
    const created = await pce.call('PUT', '/orgs/1/workloads/bulk_create', [
      { name: 'a', interfaces: [{ name: 'eth0', address: '198.18.1.1' }] },
      { name: 'b', interfaces: [{ name: 'eth0', address: 'not-an-ip' }] },
    ]);
    expect(created.status).toBe(200);
    expect(created.body[0].status).toBe('created');
    expect(created.body[1]).toMatchObject({ status: 'failed', href: null });
    expect(created.body[1].errors[0].message).toContain('[1].interfaces[0].address');
    const upd = await pce.call('PUT', '/orgs/1/workloads/bulk_update', [
      { href: created.body[0].href, labels: [{ href: web }] },
    ]);
    expect(upd.body[0].status).toBe('updated');
    const filtered = await pce.call('GET', `/orgs/1/workloads?labels=${encodeURIComponent(JSON.stringify([[web]]))}`);
    expect(filtered.body.map((w: { name: string }) => w.name)).toEqual(['a']);
    const del = await pce.call('PUT', '/orgs/1/workloads/bulk_delete', [{ href: created.body[0].href }]);
    expect(del.body[0].status).toBe('deleted');
    expect((await pce.call('GET', '/orgs/1/workloads')).body).toEqual([]);
  });

  it('makes pairing keys for enabled pairing profiles', async () => {
    const pp = await pce.call('POST', '/orgs/1/pairing_profiles', { name: 'nodes', enforcement_mode: 'full' });
    expect(pp.status).toBe(201);
    const key = await pce.call('POST', `${pp.body.href}/pairing_key`, {});
    expect(key.body.activation_code).toMatch(/^[0-9a-f]{48}$/);
    await pce.call('PUT', pp.body.href, { enabled: false });
    expect((await pce.call('POST', `${pp.body.href}/pairing_key`, {})).status).toBe(406);
  });

  it('creates API keys for the caller and never lists secrets', async () => {
    const k = await pce.call('POST', '/users/1/api_keys', { name: 'ci', role: 'read_only' });
    expect(k.status).toBe(201);
    expect(k.body.secret).toMatch(/^[0-9a-f]{64}$/);
    const list = await pce.call('GET', '/users/1/api_keys');
    expect(JSON.stringify(list.body)).not.toContain(k.body.secret);
    const escalate = await pce.call('POST', '/users/1/api_keys', { name: 'x', role: 'owner' }, 'admin');
    expect(escalate.status).toBe(403);
  });

  it('answers settings/workloads as existing clients check it', async () => {
    const s = await pce.call('GET', '/orgs/1/settings/workloads');
    expect(s.status).toBe(200);
    expect(s.body.href).toBe('/orgs/1/settings/workloads');
  });
});
