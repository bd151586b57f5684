// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The compiled NodePolicy itself: which workloads it lists, exact entries and
// sets, set naming and sharing, and byte-identical output for equal input.
import { describe, expect, it } from 'vitest';
import type { AddressSet, NodePolicy } from '../api/node-policy.js';
import type { PolicyContent } from '../api/policy-objects.js';
import { compileAll, PolicyCompiler } from './compile.js';
import type { InventoryWorkload } from './input.js';
import {
  allowRule,
  ams,
  containerHost,
  cw,
  denyRule,
  input,
  ipList,
  ipListActor,
  ipListHref,
  label,
  N1,
  N2,
  node,
  pod,
  ruleSet,
  scopeLabel,
  standardWorkloads,
  tcp,
  unmanaged,
} from './test-support.js';

const RULE = '/orgs/1/sec_policy/draft/rule_sets/1/sec_rules/1';
const webToDb: Partial<PolicyContent> = {
  rule_sets: [
    ruleSet(1, {
      rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] })],
    }),
  ],
};

/** The set an entry of a workload names (exactly one peer expected). */
function peerSet(np: NodePolicy, href: string, dir: 'inbound' | 'outbound', i = 0): AddressSet {
  const w = np.workloads.find((x) => x.href === href)!;
  const entry = w[dir][i]!;
  expect(entry.peers).toHaveLength(1);
  return np.sets[entry.peers[0]!]!;
}

describe('compileAll', () => {
  it('gives one policy per node workload, keyed in href order', () => {
    expect([...compileAll(input(webToDb)).keys()]).toEqual([N1, N2]);
  });

  it.each([
    {
      name: 'lists enforcing container workloads and the node itself, sorted by href',
      node: N1,
      hrefs: [cw('db-blog-prod'), cw('db-shop-dev'), cw('db-shop-prod'), cw('web-shop-prod'), N1],
    },
    {
      name: 'leaves out idle container workloads (cache-shop-prod) and unmanaged workloads',
      node: N2,
      hrefs: [cw('api-shop-prod'), cw('web-blog-prod'), cw('web-shop-dev'), N2],
    },
  ])('$name', ({ node: n, hrefs }) => {
    const np = compileAll(input(webToDb)).get(n)!;
    expect(np.workloads.map((w) => w.href)).toEqual(hrefs);
    expect(np.policy_version).toBe(1);
  });

  it('leaves out an idle node but keeps the workloads it hosts', () => {
    const inv = standardWorkloads().map((w) => (w.href === N1 ? node(N1, '192.168.0.1', 'idle') : w));
    const np = compileAll(input(webToDb, inv)).get(N1)!;
    expect(np.workloads.map((w) => w.href)).not.toContain(N1);
    expect(np.workloads).toHaveLength(4);
  });

  it('writes the inbound entry at providers and the outbound entry at consumers, with exact sets', () => {
    const np = compileAll(input(webToDb)).get(N1)!;
    const db = np.workloads.find((w) => w.href === cw('db-shop-prod'))!;
    expect(db.inbound).toEqual([
      {
        action: 'allow',
        peers: [expect.stringMatching(/^lg_[0-9a-f]{12}$/)],
        services: [{ proto: 6, port: 5432 }],
        rule: RULE,
      },
    ]);
    expect(db.outbound).toEqual([]);
    expect(db).toMatchObject({ kind: 'container_workload', enforcement_mode: 'full', addresses: ['10.0.0.3'] });
    expect(peerSet(np, cw('db-shop-prod'), 'inbound')).toEqual({
      name: db.inbound[0]!.peers[0],
      addresses: ['10.0.0.1/32', '10.0.1.1/32', '10.0.2.1/32'],
      workloads: [cw('web-blog-prod'), cw('web-shop-dev'), cw('web-shop-prod')],
    });
    expect(peerSet(np, cw('web-shop-prod'), 'outbound')).toMatchObject({
      addresses: ['10.0.0.3/32', '10.0.1.3/32', '10.0.2.3/32'],
      workloads: [cw('db-blog-prod'), cw('db-shop-dev'), cw('db-shop-prod')],
    });
  });

  it('includes only the sets its own entries name, keys sorted', () => {
    const all = compileAll(input(webToDb));
    const n1 = all.get(N1)!;
    const n2 = all.get(N2)!;
    expect(Object.keys(n1.sets)).toEqual(Object.keys(n1.sets).sort());
    expect(Object.keys(n1.sets)).toHaveLength(2); // web set (db inbound) and db set (web outbound)
    const dbSet = peerSet(n2, cw('web-shop-dev'), 'outbound').name;
    expect(Object.keys(n2.sets)).toEqual([dbSet]); // no db pod on N2: the web set is not sent there
  });

  it('names equal selectors alike across rules, so they share one set', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] })],
        }),
        ruleSet(2, {
          rules: [allowRule(2, { id: 1, providers: [label('api')], consumers: [label('web')], services: [tcp(80)] })],
        }),
      ],
    };
    const np = compileAll(input(p)).get(N2)!;
    const apiPeers = np.workloads.find((w) => w.href === cw('api-shop-prod'))!.inbound[0]!.peers;
    const n1 = compileAll(input(p)).get(N1)!;
    const dbPeers = n1.workloads.find((w) => w.href === cw('db-shop-prod'))!.inbound[0]!.peers;
    expect(apiPeers).toEqual(dbPeers);
    const web = np.workloads.find((w) => w.href === cw('web-shop-dev'))!;
    expect(new Set(web.outbound.map((e) => e.peers[0])).size).toBe(2); // db and api sets differ
  });

  it('merges addresses into CIDR blocks and ranges, IPv4 before IPv6, IP-list exclusions cut out, FQDNs left out', () => {
    const inv: InventoryWorkload[] = [
      node(N1, '192.168.0.1'),
      pod('a', ['web'], '10.0.0.2'),
      pod('b', ['web'], '10.0.0.3'),
      pod('c', ['web'], '10.0.0.5'),
      pod('d', ['web'], '10.0.0.6'),
      pod('e', ['web'], '10.0.0.7'),
      pod('f', ['web'], 'fd00::1'),
      pod('g', ['web'], '::ffff:10.0.0.4'),
      pod('db', ['db'], '10.0.9.9'),
    ];
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          rules: [
            allowRule(1, {
              id: 1,
              providers: [label('db')],
              consumers: [label('web'), ipListActor(ipListHref(1))],
              services: [tcp(5432)],
            }),
          ],
        }),
      ],
      ip_lists: [ipList(1, [{ from_ip: '172.16.0.0/12' }, { from_ip: '172.20.0.0/16', exclusion: true }])],
    };
    const np = compileAll(input(p, inv)).get(N1)!;
    expect(peerSet(np, cw('db'), 'inbound').addresses).toEqual([
      '10.0.0.2-10.0.0.7',
      '172.16.0.0/14',
      '172.21.0.0-172.31.255.255',
      'fd00::1/128',
    ]);
  });

  it('gives no entry at all for a rule with an empty side', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          rules: [
            allowRule(1, { id: 1, providers: [], consumers: [label('web')], services: [tcp(5432)] }),
            allowRule(1, { id: 2, providers: [label('db')], consumers: [], services: [tcp(5432)] }),
          ],
        }),
      ],
    };
    for (const np of compileAll(input(p)).values()) {
      expect(np.workloads.flatMap((w) => [...w.inbound, ...w.outbound])).toEqual([]);
      expect(np.sets).toEqual({});
    }
  });

  it('lists unmanaged workloads in sets but gives them no policy', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [ams], services: [tcp(5432)] })],
        }),
      ],
    };
    const all = compileAll(input(p));
    const set = peerSet(all.get(N1)!, cw('db-shop-prod'), 'inbound');
    expect(set.workloads).toContain('/orgs/1/workloads/300');
    expect(set.addresses).toContain('172.16.0.5/32');
    for (const np of all.values()) expect(np.workloads.map((w) => w.href)).not.toContain('/orgs/1/workloads/300');
  });

  it('container_host: each node reaches only the providers it hosts; each provider only its node', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          scopes: [[scopeLabel('shop')]],
          rules: [
            allowRule(1, {
              id: 1,
              providers: [label('web')],
              consumers: [containerHost],
              services: [tcp(8080)],
              unscoped: true,
            }),
          ],
        }),
      ],
    };
    const n2 = compileAll(input(p)).get(N2)!;
    expect(peerSet(n2, N2, 'outbound')).toMatchObject({ addresses: ['10.0.1.1/32'], workloads: [cw('web-shop-dev')] });
    expect(peerSet(n2, cw('web-shop-dev'), 'inbound')).toMatchObject({
      addresses: ['192.168.0.2/32'],
      workloads: [N2],
    });
  });

  it('merges the entries of one rule reached through several scopes into one entry with both peer sets', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          scopes: [[scopeLabel('shop')], [scopeLabel('prod')]],
          rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] })],
        }),
      ],
    };
    const db = compileAll(input(p))
      .get(N1)!
      .workloads.find((w) => w.href === cw('db-shop-prod'))!;
    expect(db.inbound).toHaveLength(1);
    expect(db.inbound[0]!.peers).toHaveLength(2);
  });

  it('sorts entries by precedence, then rule href', () => {
    const p: Partial<PolicyContent> = {
      rule_sets: [
        ruleSet(1, {
          rules: [
            allowRule(1, { id: 10, providers: [label('db')], consumers: [ams], services: [tcp(1)] }),
            allowRule(1, { id: 9, providers: [label('db')], consumers: [ams], services: [tcp(2)] }),
          ],
          deny_rules: [
            denyRule(1, { id: 1, providers: [label('db')], consumers: [ams], services: [tcp(3)] }),
            denyRule(1, { id: 2, providers: [label('db')], consumers: [ams], services: [tcp(4)], override: true }),
          ],
        }),
      ],
    };
    const db = compileAll(input(p))
      .get(N1)!
      .workloads.find((w) => w.href === cw('db-shop-prod'))!;
    expect(db.inbound.map((e) => `${e.action} ${e.rule.split('/').slice(-2).join('/')}`)).toEqual([
      'override_deny deny_rules/2',
      'allow sec_rules/9',
      'allow sec_rules/10',
      'deny deny_rules/1',
    ]);
  });
});

describe('deterministic output', () => {
  const rich: Partial<PolicyContent> = {
    rule_sets: [
      ruleSet(2, {
        scopes: [[scopeLabel('prod')], [scopeLabel('shop')]],
        rules: [
          allowRule(2, {
            id: 1,
            providers: [label('db')],
            consumers: [label('web'), label('api')],
            services: [tcp(5432), tcp(22)],
          }),
        ],
        deny_rules: [
          denyRule(2, {
            id: 1,
            providers: [ams],
            consumers: [ipListActor(ipListHref(1))],
            services: [{ proto: -1 }],
            unscoped: true,
          }),
        ],
      }),
      ruleSet(1, {
        rules: [
          allowRule(1, {
            id: 1,
            providers: [label('web')],
            consumers: [containerHost],
            services: [tcp(8080)],
            unscoped: true,
          }),
        ],
      }),
    ],
    ip_lists: [ipList(1, [{ from_ip: '0.0.0.0/0' }, { from_ip: '10.0.0.0/8', exclusion: true }])],
  };
  const json = (m: Map<string, NodePolicy>) => JSON.stringify([...m.entries()]);

  it('is byte-identical for equal input', () => {
    expect(json(compileAll(input(rich)))).toBe(json(compileAll(input(rich))));
  });

  it('is byte-identical whatever the order of the inventory and of the policy objects', () => {
    const reversed: Partial<PolicyContent> = {
      ...rich,
      rule_sets: [...rich.rule_sets!]
        .reverse()
        .map((rs) => ({ ...rs, rules: [...rs.rules].reverse(), scopes: [...rs.scopes].reverse() })),
    };
    const shuffled = [...standardWorkloads()].reverse();
    expect(json(compileAll(input(reversed, shuffled)))).toBe(json(compileAll(input(rich))));
  });

  it('changes the version only where the version changed', () => {
    const a = json(compileAll(input(rich, standardWorkloads(), 1)));
    const b = json(compileAll(input(rich, standardWorkloads(), 2)));
    expect(b).toBe(a.replaceAll('"policy_version":1', '"policy_version":2'));
  });
});

describe('policyFor', () => {
  it('compiles a workload that is not in the inventory, from its labels', () => {
    const c = new PolicyCompiler(input(webToDb));
    const hypothetical: InventoryWorkload = {
      href: '/orgs/1/workloads/policy-check',
      name: 'check',
      kind: 'unmanaged',
      labels: [pod('x', ['web'], '10.0.0.99').labels[0]!],
      addresses: [],
      enforcement_mode: 'idle',
      node: null,
    };
    const { policy, sets } = c.policyFor(hypothetical);
    expect(policy.outbound.map((e) => e.rule)).toEqual([RULE]);
    expect(sets[policy.outbound[0]!.peers[0]!]!.workloads).toContain(cw('db-shop-prod'));
  });

  it('gives an unmanaged workload in the inventory its entries too (policy_check), though no node lists it', () => {
    const c = new PolicyCompiler(input(webToDb, [...standardWorkloads(), unmanaged(301, ['db'], '172.16.0.6')]));
    expect(c.policyFor(unmanaged(301, ['db'], '172.16.0.6')).policy.inbound.map((e) => e.rule)).toEqual([RULE]);
  });
});
