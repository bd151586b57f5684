// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The renderer is pure: these run as any user. render.privileged.test.ts feeds the same scripts to nft.
import { describe, expect, it } from 'vitest';
import type { NodePolicy, WorkloadPolicy } from '@bulkhead/pce/api';
import { desiredTables, pendingTable, workloadTable, type DesiredPod } from '../policy/desired.js';
import { renderFullReplace, renderRule, renderUpdate, ruleCount } from './render.js';

const RULE = '/orgs/1/sec_policy/active/rule_sets/1/sec_rules/2';
const DENY = '/orgs/1/sec_policy/active/rule_sets/1/deny_rules/3';
const sets = {
  lg_aaaaaaaaaaaa: {
    name: 'lg_aaaaaaaaaaaa',
    addresses: ['198.19.0.5/32', 'fd00::5/128'],
    workloads: ['/orgs/1/container_workloads/a'],
  },
  lg_bbbbbbbbbbbb: { name: 'lg_bbbbbbbbbbbb', addresses: ['198.19.1.0/24'], workloads: [] },
};

function workload(mode: WorkloadPolicy['enforcement_mode']): WorkloadPolicy {
  return {
    href: '/orgs/1/container_workloads/uid-1',
    kind: 'container_workload',
    enforcement_mode: mode,
    visibility_level: 'flow_summary',
    addresses: ['198.19.0.9'],
    inbound: [
      { action: 'override_deny', peers: ['lg_bbbbbbbbbbbb'], services: [{ proto: 6, port: 22 }], rule: DENY },
      {
        action: 'allow',
        peers: ['lg_aaaaaaaaaaaa'],
        services: [
          { proto: 6, port: 8080 },
          { proto: 17, port: 53, to_port: 54 },
        ],
        rule: RULE,
      },
    ],
    outbound: [{ action: 'allow', peers: ['lg_bbbbbbbbbbbb'], services: [{ proto: -1 }], rule: RULE }],
  };
}

describe('workloadTable', () => {
  it('full mode drops by default in both directions and keeps precedence order', () => {
    const t = workloadTable(workload('full'), sets);
    expect([t.inboundPolicy, t.outboundPolicy]).toEqual(['drop', 'drop']);
    expect(t.inbound.map((r) => r.verdict)).toEqual(['drop', 'drop', 'accept', 'accept', 'accept', 'accept']);
    expect(t.inbound[0]!.comment).toBe(DENY);
    expect(t.outbound).toHaveLength(2); // all services, both families
  });

  it('selective mode writes inbound only, accepting by default', () => {
    const t = workloadTable(workload('selective'), sets);
    expect([t.inboundPolicy, t.outboundPolicy]).toEqual(['accept', 'accept']);
    expect(t.inbound.length).toBeGreaterThan(0);
    expect(t.outbound).toEqual([]);
  });

  it('visibility_only writes no entry at all', () => {
    const t = workloadTable(workload('visibility_only'), sets);
    expect(t.inbound).toEqual([]);
    expect(t.outbound).toEqual([]);
    expect(t.sets).toEqual([]);
  });

  it('splits each address set by family and keeps only the sets its rules use', () => {
    const t = workloadTable({ ...workload('full'), outbound: [] }, sets);
    expect(t.sets.map((s) => [s.name, s.elements])).toEqual([
      ['lg_aaaaaaaaaaaa_4', ['198.19.0.5/32']],
      ['lg_aaaaaaaaaaaa_6', ['fd00::5/128']],
      ['lg_bbbbbbbbbbbb_4', ['198.19.1.0/24']],
      ['lg_bbbbbbbbbbbb_6', []],
    ]);
  });

  it('matches ICMP in IPv4 only and ICMPv6 in IPv6 only', () => {
    const w = {
      ...workload('full'),
      inbound: [
        {
          action: 'allow' as const,
          peers: ['lg_aaaaaaaaaaaa'],
          services: [{ proto: 1, icmp_type: 8 }, { proto: 58 }],
          rule: RULE,
        },
      ],
      outbound: [],
    };
    const t = workloadTable(w, sets);
    expect(t.inbound.map((r) => [r.family, r.service?.proto])).toEqual([
      [4, 1],
      [6, 58],
    ]);
    expect(renderRule(t.inbound[0]!, 'inbound')).toBe(
      `ip saddr @lg_aaaaaaaaaaaa_4 meta l4proto icmp icmp type 8 accept comment "${RULE}"`,
    );
  });
});

describe('renderRule', () => {
  it('names the peer by source inbound and by destination outbound, with the rule href as comment', () => {
    const r = {
      verdict: 'accept' as const,
      family: 4 as const,
      peer: { set: 'lg_x_4' },
      service: { proto: 6, port: 80, to_port: 90 },
      comment: RULE,
    };
    expect(renderRule(r, 'inbound')).toBe(`ip saddr @lg_x_4 meta l4proto tcp th dport 80-90 accept comment "${RULE}"`);
    expect(renderRule(r, 'outbound')).toBe(`ip daddr @lg_x_4 meta l4proto tcp th dport 80-90 accept comment "${RULE}"`);
  });
});

describe('renderUpdate', () => {
  const before = workloadTable(workload('full'), sets);

  it('returns null when nothing changed', () => {
    expect(renderUpdate(before, workloadTable(workload('full'), sets))).toBeNull();
  });

  it('rewrites only set elements when a peer starts elsewhere', () => {
    const more = {
      ...sets,
      lg_aaaaaaaaaaaa: { ...sets.lg_aaaaaaaaaaaa, addresses: ['198.19.0.5/32', '198.19.1.7/32', 'fd00::5/128'] },
    };
    const script = renderUpdate(before, workloadTable(workload('full'), more))!;
    expect(script.trim().split('\n')).toEqual([
      'flush set inet bulkhead lg_aaaaaaaaaaaa_4',
      'add element inet bulkhead lg_aaaaaaaaaaaa_4 { 198.19.0.5/32, 198.19.1.7/32 }',
    ]);
  });

  it('rewrites only the chain whose rules changed, and drops sets no rule uses last', () => {
    const w = { ...workload('full'), outbound: [] };
    const script = renderUpdate(before, workloadTable(w, sets))!;
    expect(script).toContain('flush chain inet bulkhead outbound');
    expect(script).not.toContain('flush chain inet bulkhead inbound');
    expect(script.trim().split('\n').at(-1)).toMatch(/^(add rule inet bulkhead outbound|delete set)/);
  });

  it('replaces the whole table when the mode changes', () => {
    const script = renderUpdate(before, workloadTable(workload('selective'), sets))!;
    expect(script.startsWith('table inet bulkhead {}\ndelete table inet bulkhead\n')).toBe(true);
    expect(script).toContain('policy accept;');
  });
});

describe('renderFullReplace', () => {
  it('declares the table whole after deleting the old one, in one script', () => {
    const script = renderFullReplace(workloadTable(workload('full'), sets));
    const lines = script.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'table inet bulkhead {}',
      'delete table inet bulkhead',
      'table inet bulkhead {',
    ]);
    expect(script).toContain('set lg_bbbbbbbbbbbb_6 { type ipv6_addr; flags interval; }');
    expect(script).toContain('type filter hook input priority filter; policy drop;');
    expect(script).toContain('ct state established,related accept');
    expect(ruleCount(workloadTable(workload('full'), sets))).toBeGreaterThan(8);
  });

  it('holds a pending pod fail-closed: established only', () => {
    const script = renderFullReplace(pendingTable());
    expect(script).toContain('policy drop;');
    expect(script).not.toContain('comment "/orgs');
  });
});

describe('desiredTables', () => {
  const pods: DesiredPod[] = [
    { uid: 'uid-1', namespace: 'shop', name: 'web', ip: '198.19.0.9', netnsPath: '/run/netns/p1', hostNetwork: false },
    { uid: 'uid-2', namespace: 'shop', name: 'new', ip: '198.19.0.10', netnsPath: '/run/netns/p2', hostNetwork: false },
    { uid: 'uid-3', namespace: 'other', name: 'x', ip: '198.19.0.11', netnsPath: '/run/netns/p3', hostNetwork: false },
    { uid: 'uid-4', namespace: 'shop', name: 'hostnet', ip: '', netnsPath: '', hostNetwork: true },
  ];
  const node: WorkloadPolicy = {
    href: '/orgs/1/workloads/n',
    kind: 'node',
    enforcement_mode: 'visibility_only',
    visibility_level: 'flow_summary',
    addresses: ['198.18.0.10'],
    inbound: [],
    outbound: [],
  };
  const policy: NodePolicy = { node: node.href, policy_version: 1, sets, workloads: [workload('full'), node] };
  const implicit = { pce: { addresses: ['198.18.0.1'], port: 8443 }, dns: ['198.18.0.254'] };

  it('gives the node its implicit rules, each enforced pod its table, and a fail-closed table to a full-mode pod not yet in the policy', () => {
    const t = desiredTables({ policy, pods, nodeName: 'n0', implicit, namespaceModes: { shop: 'full' } });
    expect(t.map((x) => [x.key, x.workload])).toEqual([
      ['node', node.href],
      ['uid-1', '/orgs/1/container_workloads/uid-1'],
      ['uid-2', null],
    ]);
    const nodeRules = t[0]!.table.outbound.map((r) => `${r.comment} ${r.service?.proto}/${r.service?.port}`);
    expect(nodeRules).toEqual([
      'implicit: the agent to its PCE 6/8443',
      'implicit: DNS to the cluster resolver 17/53',
      'implicit: DNS to the cluster resolver 6/53',
    ]);
  });

  it('writes nothing for idle workloads, unmanaged namespaces and host-network pods', () => {
    const idle = { ...policy, workloads: [{ ...workload('full'), enforcement_mode: 'idle' as const }] };
    expect(
      desiredTables({ policy: idle, pods, nodeName: 'n0', implicit, namespaceModes: { shop: 'selective' } }),
    ).toEqual([]);
  });
});
