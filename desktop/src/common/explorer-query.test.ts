// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The explorer's picks become Illumio's query with its OR-of-ANDs semantics; bad service text is named.
import { describe, expect, it } from 'vitest';
import { flowMatches, type TrafficFlow } from '@bulkhead/pce/api';
import { buildQuery, emptyFilters, includeLists, parseServices, type ActorPick } from './explorer-query.js';

const L = (key: string, value: string): ActorPick => ({
  kind: 'label',
  href: `/orgs/1/labels/${key}-${value}`,
  key,
  value,
});
const flow = (labels: [string, string][], port = 80, ip = '10.0.0.1'): TrafficFlow => ({
  src: {
    ip,
    workload: {
      href: '/w/1',
      name: 'a',
      labels: labels.map(([k, v]) => ({ href: `/orgs/1/labels/${k}-${v}`, key: k, value: v })),
    },
  },
  dst: { ip: '10.0.0.2' },
  service: { port, proto: 6 },
  policy_decision: 'allowed',
  rule: null,
  num_connections: 1,
  flow_direction: 'outbound',
  timestamp_range: { first_detected: new Date().toISOString(), last_detected: new Date().toISOString() },
  dst_bi: 0,
  dst_bo: 0,
});

describe('explorer query', () => {
  it('ORs picks of one label key and ANDs different keys', () => {
    expect(includeLists([L('app', 'shop'), L('app', 'pay'), L('env', 'prod')])).toEqual([
      [{ label: { href: '/orgs/1/labels/app-shop' } }, { label: { href: '/orgs/1/labels/env-prod' } }],
      [{ label: { href: '/orgs/1/labels/app-pay' } }, { label: { href: '/orgs/1/labels/env-prod' } }],
    ]);
    expect(includeLists([])).toEqual([[]]);
    const q = buildQuery({ ...emptyFilters(), srcInclude: [L('app', 'shop'), L('app', 'pay'), L('env', 'prod')] });
    expect(
      flowMatches(
        q,
        flow([
          ['app', 'pay'],
          ['env', 'prod'],
        ]),
      ),
    ).toBe(true);
    expect(
      flowMatches(
        q,
        flow([
          ['app', 'pay'],
          ['env', 'dev'],
        ]),
      ),
    ).toBe(false);
    expect(
      flowMatches(
        q,
        flow([
          ['app', 'web'],
          ['env', 'prod'],
        ]),
      ),
    ).toBe(false);
  });

  it('reads services and names what it cannot read', () => {
    expect(parseServices('80, 443/tcp, 8000-8080/tcp, udp')).toEqual([
      { port: 80 },
      { port: 443, proto: 6 },
      { port: 8000, to_port: 8080, proto: 6 },
      { proto: 17 },
    ]);
    expect(() => parseServices('http')).toThrow(/services: cannot read "http"/);
    expect(() => parseServices('70000/tcp')).toThrow(/65535/);
    expect(() => parseServices('90-80')).toThrow(/ends before it starts/);
    const q = buildQuery({ ...emptyFilters(), services: '443/tcp', excludeServices: '' });
    expect(flowMatches(q, flow([], 443))).toBe(true);
    expect(flowMatches(q, flow([], 80))).toBe(false);
  });

  it('excludes an address and refuses a time range of nothing', () => {
    const q = buildQuery({ ...emptyFilters(), srcExclude: [{ kind: 'ip_address', value: '10.0.0.1' }] });
    expect(flowMatches(q, flow([]))).toBe(false);
    expect(flowMatches(q, flow([], 80, '10.0.0.9'))).toBe(true);
    expect(() => buildQuery({ ...emptyFilters(), sinceMinutes: 0 })).toThrow(/time range/);
  });
});
