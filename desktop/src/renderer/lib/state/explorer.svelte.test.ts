// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The explorer's state on an offline snapshot (no PCE needed): filtering with the PCE's own
// matcher, totals, sorting, and filters that do not parse; the session's error notices.
import { describe, expect, it } from 'vitest';
import type { TrafficFlow } from '@bulkhead/pce/api';
import { ExplorerState } from './explorer.svelte.js';
import { Session } from './session.svelte.js';

const flow = (
  src: string,
  dst: string,
  port: number,
  decision: TrafficFlow['policy_decision'],
  n: number,
  last: string,
): TrafficFlow => ({
  src: {
    ip: src,
    workload: { href: `/w/${src}`, name: `pod-${src}`, labels: [{ href: '/l/app', key: 'app', value: 'shop' }] },
  },
  dst: { ip: dst },
  service: { port, proto: 6 },
  policy_decision: decision,
  rule: null,
  num_connections: n,
  flow_direction: 'outbound',
  timestamp_range: { first_detected: last, last_detected: last },
  dst_bi: 0,
  dst_bo: 0,
});

function offline(flows: TrafficFlow[]): Session {
  const s = new Session();
  s.openOffline({ name: 'snap.sqlite', createdAt: '2026-12-01T00:00:00Z', query: undefined, flows });
  return s;
}

const FLOWS = [
  flow('10.0.0.1', '10.0.0.9', 80, 'allowed', 5, '2026-12-01T00:00:03Z'),
  flow('10.0.0.2', '10.0.0.9', 5432, 'potentially_blocked', 2, '2026-12-01T00:00:01Z'),
  flow('10.0.0.3', '10.0.0.9', 80, 'blocked', 9, '2026-12-01T00:00:02Z'),
];

describe('ExplorerState', () => {
  it('filters a snapshot offline, counts the decisions, and sorts', async () => {
    const ex = new ExplorerState(offline(FLOWS));
    expect(await ex.run()).toBe(true);
    expect(ex.totals).toMatchObject({ flows: 3, connections: 16, allowed: 1, potentially_blocked: 1, blocked: 1 });
    expect(ex.sorted.map((f) => f.src.ip)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.2']); // newest first
    ex.toggleSort('connections');
    expect(ex.sorted.map((f) => f.num_connections)).toEqual([9, 5, 2]);
    ex.toggleSort('connections');
    expect(ex.sorted.map((f) => f.num_connections)).toEqual([2, 5, 9]);

    ex.filters.services = '80/tcp';
    ex.filters.decisions = ['blocked'];
    await ex.run();
    expect(ex.flows.map((f) => f.src.ip)).toEqual(['10.0.0.3']);
    expect(ex.csv().split('\n')[1]).toContain('10.0.0.3');

    ex.filters.decisions = [];
    ex.filters.services = '';
    ex.filters.srcExclude.push({ kind: 'ip_address', value: '10.0.0.1' });
    await ex.run();
    expect(ex.totals.flows).toBe(2);
  });

  it('keeps the last result and says why when the filters do not parse', async () => {
    const ex = new ExplorerState(offline(FLOWS));
    await ex.run();
    ex.filters.services = 'https';
    expect(await ex.run()).toBe(false);
    expect(ex.error).toMatch(/services: cannot read "https"/);
    expect(ex.flows).toHaveLength(3);
  });

  it('asks for a PCE where a view needs one, and a failed operation leaves a notice with its hint', async () => {
    const s = offline(FLOWS);
    const ex = new ExplorerState(s);
    expect(await ex.snapshotBytes()).toBeUndefined();
    expect(s.notices.at(-1)?.message).toMatch(/Run a query against a PCE first/);
    expect(() => s.pce).toThrow(/offline snapshot: connect to a PCE/);
    const r = await s.run('Loading', async () => {
      throw new Error('boom');
    });
    expect(r).toBeUndefined();
    expect(s.tasks).toEqual([]);
    expect(s.notices.at(-1)).toMatchObject({ kind: 'error', message: 'Loading: boom' });
  });
});
