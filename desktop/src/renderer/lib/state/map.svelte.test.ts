// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The map's state offline: groups by the chosen keys, dagre places consumers left of providers,
// an edge's worst decision colours it, and selecting an edge drafts the rule that allows it.
import { describe, expect, it } from 'vitest';
import type { TrafficFlow } from '@bulkhead/pce/api';
import { edgeDecision, MapState } from './map.svelte.js';
import { PolicyState } from './policy.svelte.js';
import { Session } from './session.svelte.js';

const L = {
  web: { href: '/l/web', key: 'role', value: 'web' },
  api: { href: '/l/api', key: 'role', value: 'api' },
  prod: { href: '/l/prod', key: 'env', value: 'prod' },
};
const end = (ip: string, labels: (typeof L)[keyof typeof L][]) => ({
  ip,
  workload: { href: `/w/${ip}`, name: ip, labels },
});
const flow = (
  src: ReturnType<typeof end>,
  dst: ReturnType<typeof end>,
  decision: TrafficFlow['policy_decision'],
): TrafficFlow => ({
  src,
  dst,
  service: { port: 8080, proto: 6 },
  policy_decision: decision,
  rule: null,
  num_connections: 3,
  flow_direction: 'outbound',
  timestamp_range: { first_detected: '2026-12-01T00:00:00Z', last_detected: '2026-12-01T00:00:01Z' },
  dst_bi: 10,
  dst_bo: 20,
});

describe('MapState', () => {
  it('groups, lays out, colours and drafts the rule for a selected edge', async () => {
    const web = end('10.0.0.1', [L.web, L.prod]);
    const api = end('10.0.0.2', [L.api, L.prod]);
    const s = new Session();
    const flows = [flow(web, api, 'potentially_blocked'), flow(web, api, 'allowed')];
    s.openOffline({ name: 'x', createdAt: '', query: undefined, flows });
    const policy = new PolicyState(s);
    policy.labels = Object.values(L);
    const m = new MapState(s, policy);
    m.keys = ['role', 'env'];
    await m.load();
    expect(m.groups!.nodes.map((n) => n.id)).toEqual(['role=api,env=prod', 'role=web,env=prod']);
    const layout = m.layout!;
    const x = (id: string) => layout.nodes.find((n) => n.id === id)!.x;
    expect(x('role=web,env=prod')).toBeLessThan(x('role=api,env=prod'));
    expect(layout.edges[0]!.d).toMatch(/^M[\d.]+,[\d.]+/);
    expect(edgeDecision(layout.edges[0]!)).toBe('potentially_blocked');

    await m.select('role=web,env=prod>role=api,env=prod', () => m.flows());
    expect(m.selectedEdge?.num_connections).toBe(6);
    expect(m.edgeFlows).toHaveLength(2);
    const d = m.draftForSelected()!;
    expect(d.problems).toEqual([]);
    expect(d.ruleset.scopes).toEqual([[{ label: { href: '/l/prod' } }]]);
    expect(d.rule).toMatchObject({
      consumers: [{ label: { href: '/l/web' } }],
      providers: [{ label: { href: '/l/api' } }],
    });

    await m.select(undefined, () => m.flows());
    expect(m.selectedEdge).toBeUndefined();
  });
});
