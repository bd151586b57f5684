// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import {
  compareHrefs,
  decideFlow,
  mostRestrictive,
  serviceMatches,
  verdictOf,
  type FlowEnd,
  type FlowPeer,
  type FlowService,
  type PolicyDecision,
  type Verdict,
} from './evaluate.js';
import type { AddressSet, PolicyEntry, ServiceMatch, WorkloadPolicy } from './node-policy.js';

const R = (n: number) => `/orgs/1/sec_policy/3/rule_sets/1/sec_rules/${n}`;
const D = (n: number) => `/orgs/1/sec_policy/3/rule_sets/1/deny_rules/${n}`;
const TCP = (port: number): FlowService => ({ proto: 6, port });

const sets: Record<string, AddressSet> = {
  lg_web: { name: 'lg_web', addresses: ['10.0.0.0/30', '10.0.1.5-10.0.1.9'], workloads: ['/w/web-1', '/w/web-2'] },
  lg_dev: { name: 'lg_dev', addresses: ['10.0.9.9/32', 'fd00::/64'], workloads: ['/w/dev-1'] },
  lg_any: { name: 'lg_any', addresses: ['0.0.0.0/0', '::/0'], workloads: [] },
  lg_empty: { name: 'lg_empty', addresses: [], workloads: [] },
};

const entry = (
  action: PolicyEntry['action'],
  peers: string[],
  services: ServiceMatch[],
  rule: string,
): PolicyEntry => ({
  action,
  peers,
  services,
  rule,
});

describe('compareHrefs', () => {
  it.each([
    ['numeric segments compare as numbers', '/orgs/1/rules/9', '/orgs/1/rules/10', -1],
    ['equal hrefs', '/orgs/1/rules/10', '/orgs/1/rules/10', 0],
    ['earlier segments decide first', '/orgs/1/rule_sets/2/sec_rules/1', '/orgs/1/rule_sets/10/sec_rules/1', -1],
    ['text segments compare as text', '/orgs/1/deny_rules/5', '/orgs/1/sec_rules/1', -1],
    ['a prefix sorts first', '/orgs/1/rules', '/orgs/1/rules/1', -1],
    ['big numbers beyond 2^53 still compare', '/x/90071992547409930', '/x/90071992547409931', -1],
    ['uuids compare as text', '/cw/0a1b', '/cw/0a1c', -1],
    ['digits before letters in a text segment', '/cw/9a', '/cw/a9', -1],
    ['a number against a text segment by code unit', '/x/10', '/x/9a', -1],
    ['numerically equal, leading zeros sort by text', '/x/01', '/x/1', -1],
    ['an empty last segment sorts after none', '/x', '/x/', -1],
  ])('%s', (_name, a, b, sign) => {
    expect(Math.sign(compareHrefs(a, b))).toBe(sign);
    expect(Math.sign(compareHrefs(b, a))).toBe(sign === 0 ? 0 : -sign);
  });
});

describe('serviceMatches', () => {
  it.each<[string, ServiceMatch, FlowService, boolean]>([
    ['proto -1 matches anything', { proto: -1 }, { proto: 1, icmp_type: 8 }, true],
    ['one port', { proto: 6, port: 80 }, TCP(80), true],
    ['other port', { proto: 6, port: 80 }, TCP(81), false],
    ['other protocol', { proto: 6, port: 53 }, { proto: 17, port: 53 }, false],
    ['range start', { proto: 6, port: 8000, to_port: 8080 }, TCP(8000), true],
    ['range end', { proto: 6, port: 8000, to_port: 8080 }, TCP(8080), true],
    ['past the range', { proto: 6, port: 8000, to_port: 8080 }, TCP(8081), false],
    ['every port of a protocol', { proto: 17 }, { proto: 17, port: 9 }, true],
    ['a port rule needs a port', { proto: 6, port: 80 }, { proto: 6 }, false],
    ['ICMP type', { proto: 1, icmp_type: 8 }, { proto: 1, icmp_type: 8, icmp_code: 3 }, true],
    ['ICMP other type', { proto: 1, icmp_type: 8 }, { proto: 1, icmp_type: 0 }, false],
    ['ICMP type and code', { proto: 58, icmp_type: 1, icmp_code: 4 }, { proto: 58, icmp_type: 1, icmp_code: 4 }, true],
    ['ICMP other code', { proto: 58, icmp_type: 1, icmp_code: 4 }, { proto: 58, icmp_type: 1, icmp_code: 3 }, false],
  ])('%s', (_name, m, s, want) => {
    expect(serviceMatches(m, s)).toBe(want);
  });
});

describe('verdictOf', () => {
  const entries: PolicyEntry[] = [
    entry('allow', ['lg_web'], [{ proto: 6, port: 5432 }], R(10)),
    entry('allow', ['lg_empty', 'lg_web'], [{ proto: -1 }], R(9)),
    entry('override_deny', ['lg_dev'], [{ proto: 6, port: 5432 }], D(2)),
    entry('deny', ['lg_any'], [{ proto: -1 }], D(1)),
    entry('deny', ['lg_any'], [{ proto: 6, port: 22 }], D(0)),
    entry('allow', ['lg_missing'], [{ proto: -1 }], R(1)),
  ];
  it.each<[string, FlowPeer, FlowService, Verdict, string | null]>([
    ['peer by href; the lowest href among allows', { href: '/w/web-1' }, TCP(5432), 'allow', R(9)],
    ['peer by address inside a CIDR', { ip: '10.0.0.3' }, TCP(80), 'allow', R(9)],
    ['peer by address inside a range', { ip: '10.0.1.7' }, TCP(80), 'allow', R(9)],
    ['peer by address just past a range', { ip: '10.0.1.10' }, TCP(80), 'deny', D(1)],
    ['override-deny beats allow', { href: '/w/dev-1' }, TCP(5432), 'override_deny', D(2)],
    ['IPv6 peer', { ip: 'fd00::42' }, TCP(5432), 'override_deny', D(2)],
    ['deny beats no_rule; lowest deny href', { ip: '192.0.2.1' }, TCP(22), 'deny', D(0)],
    ['href not a member and no address', { href: '/w/other' }, TCP(5432), 'no_rule', null],
    ['a set missing from sets matches nothing', { href: '/w/other' }, TCP(1), 'no_rule', null],
  ])('%s', (_name, peer, svc, verdict, rule) => {
    expect(verdictOf(entries, sets, peer, svc)).toEqual({ verdict, rule });
  });

  it('gives no_rule for no entries', () => {
    expect(verdictOf([], sets, { ip: '10.0.0.1' }, TCP(1))).toEqual({ verdict: 'no_rule', rule: null });
  });
});

describe('decideFlow', () => {
  const policy = (inbound: PolicyEntry[], outbound: PolicyEntry[] = []): WorkloadPolicy => ({
    href: '/w/x',
    kind: 'container_workload',
    enforcement_mode: 'full',
    visibility_level: 'flow_summary',
    addresses: [],
    inbound,
    outbound,
  });
  const consumerPeer = { href: '/w/web-1', ip: '10.0.0.1' };
  const providerPeer = { href: '/w/db-1', ip: '10.0.5.1' };
  /** Provider policy giving `verdict` to the consumer on TCP 5432. */
  const giving = (verdict: Verdict): WorkloadPolicy =>
    policy(verdict === 'no_rule' ? [] : [entry(verdict, ['lg_web'], [{ proto: 6, port: 5432 }], R(1))]);
  const decide = (c: FlowEnd['mode'], p: FlowEnd['mode'], verdict: Verdict) =>
    decideFlow({
      consumer: { peer: consumerPeer, mode: c },
      provider: { peer: providerPeer, mode: p, policy: giving(verdict) },
      sets,
      service: TCP(5432),
    });

  it.each<[string, FlowEnd['mode'], FlowEnd['mode'], Verdict, PolicyDecision, 'consumer' | 'provider' | null]>([
    ['allow is allowed in every mode', 'full', 'full', 'allow', 'allowed', null],
    ['full provider blocks no_rule inbound', 'visibility_only', 'full', 'no_rule', 'blocked', 'provider'],
    ['full provider blocks deny', 'idle', 'full', 'deny', 'blocked', 'provider'],
    ['full provider blocks override_deny', 'unmanaged', 'full', 'override_deny', 'blocked', 'provider'],
    ['full consumer blocks no_rule outbound', 'full', 'visibility_only', 'no_rule', 'blocked', 'consumer'],
    ['full consumer blocks deny outbound', 'full', 'idle', 'deny', 'blocked', 'consumer'],
    ['both full: the consumer blocks first', 'full', 'full', 'deny', 'blocked', 'consumer'],
    ['selective provider blocks deny inbound', 'visibility_only', 'selective', 'deny', 'blocked', 'provider'],
    ['selective provider blocks override_deny', 'visibility_only', 'selective', 'override_deny', 'blocked', 'provider'],
    ['selective provider lets no_rule through', 'visibility_only', 'selective', 'no_rule', 'potentially_blocked', null],
    ['selective consumer blocks nothing outbound', 'selective', 'visibility_only', 'deny', 'potentially_blocked', null],
    ['selective consumer and full provider', 'selective', 'full', 'no_rule', 'blocked', 'provider'],
    [
      'visibility_only blocks nothing',
      'visibility_only',
      'visibility_only',
      'override_deny',
      'potentially_blocked',
      null,
    ],
    ['idle blocks nothing', 'idle', 'idle', 'deny', 'potentially_blocked', null],
    ['unmanaged blocks nothing', 'unmanaged', 'unmanaged', 'no_rule', 'potentially_blocked', null],
  ])('%s', (_name, c, p, verdict, decision, blocked_by) => {
    expect(decide(c, p, verdict)).toEqual({
      verdict,
      rules: verdict === 'no_rule' ? [] : [R(1)],
      decision,
      blocked_by,
    });
  });

  it('takes the verdict from the consumer’s outbound entries when the provider has no policy', () => {
    const consumer: FlowEnd = {
      peer: consumerPeer,
      mode: 'full',
      policy: policy([], [entry('allow', ['lg_any'], [{ proto: 6, port: 5432 }], R(4))]),
    };
    expect(
      decideFlow({ consumer, provider: { peer: { ip: '203.0.113.9' }, mode: 'unmanaged' }, sets, service: TCP(5432) }),
    ).toEqual({ verdict: 'allow', rules: [R(4)], decision: 'allowed', blocked_by: null });
  });

  it('prefers the provider’s inbound entries over the consumer’s outbound ones', () => {
    const consumer: FlowEnd = {
      peer: consumerPeer,
      mode: 'visibility_only',
      policy: policy([], [entry('allow', ['lg_any'], [{ proto: -1 }], R(4))]),
    };
    const provider: FlowEnd = { peer: providerPeer, mode: 'selective', policy: giving('deny') };
    expect(decideFlow({ consumer, provider, sets, service: TCP(5432) })).toMatchObject({
      verdict: 'deny',
      decision: 'blocked',
    });
  });

  it('is no_rule when neither end has a policy', () => {
    expect(
      decideFlow({
        consumer: { peer: { ip: '10.0.0.1' }, mode: 'unmanaged' },
        provider: { peer: { ip: '10.0.0.2' }, mode: 'full' },
        sets,
        service: TCP(1),
      }),
    ).toEqual({ verdict: 'no_rule', rules: [], decision: 'blocked', blocked_by: 'provider' });
  });
});

describe('mostRestrictive', () => {
  const order: PolicyDecision[] = ['allowed', 'potentially_blocked', 'unknown', 'blocked'];
  const pairs = order.flatMap((a, i) => order.map((b, j) => [a, b, order[Math.max(i, j)]!] as const));
  it.each(pairs)('%s vs %s → %s', (a, b, want) => {
    expect(mostRestrictive(a, b)).toBe(want);
  });
});
