// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// POLICY.md clause by clause: each case compiles a policy against the standard
// inventory (test-support.ts) and asserts the exact verdict and deciding rule
// of flows, checked at both ends.
import { describe, expect, it } from 'vitest';
import type { FlowService } from '../api/evaluate.js';
import type { IngressService, PolicyContent, ScopeTerm } from '../api/policy-objects.js';
import { PolicyCompiler } from './compile.js';
import {
  allowRule,
  allowed,
  ams,
  containerHost,
  cw,
  denied,
  denyRule,
  flowVerdict,
  group,
  groupHref,
  input,
  ipList,
  ipListActor,
  ipListHref,
  label,
  labelGroup,
  N1,
  N2,
  overridden,
  ruleSet,
  scopeLabel,
  service,
  serviceHref,
  standardWorkloads,
  tcp,
  virtualService,
  vsActor,
  vsHref,
  workloadActor,
} from './test-support.js';

const wsp = cw('web-shop-prod');
const asp = cw('api-shop-prod');
const dsp = cw('db-shop-prod');
const wsd = cw('web-shop-dev');
const dsd = cw('db-shop-dev');
const wbp = cw('web-blog-prod');
const dbp = cw('db-blog-prod');
const csp = cw('cache-shop-prod');
const EXT = '/orgs/1/workloads/300';

const TCP = (port: number): FlowService => ({ proto: 6, port });
const UDP = (port: number): FlowService => ({ proto: 17, port });
const PG = TCP(5432);

/** One ruleset (id 1) with one allow rule (id 1): `consumers → providers` on `services`. */
function oneRule(o: {
  scopes?: ScopeTerm[][];
  providers: Parameters<typeof allowRule>[1]['providers'];
  consumers: Parameters<typeof allowRule>[1]['consumers'];
  services?: IngressService[];
  unscoped?: boolean;
  resolve?: Parameters<typeof allowRule>[1]['resolve'];
}): Partial<PolicyContent> {
  const rule = allowRule(1, { id: 1, services: [tcp(5432)], ...o });
  return { rule_sets: [ruleSet(1, { scopes: o.scopes ?? [], rules: [rule] })] };
}

interface Case {
  name: string;
  policy: Partial<PolicyContent>;
  /** [consumer, provider, service, expected `verdict rule` or `no_rule`] */
  flows: [string, string, FlowService, string][];
}

const A = allowed(1, 1);

const cases: Case[] = [
  {
    name: 'intra-scope: consumers and providers both in the scope',
    policy: oneRule({
      scopes: [[scopeLabel('shop'), scopeLabel('prod')]],
      providers: [label('db')],
      consumers: [label('web')],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'], // consumer outside the scope (dev)
      [wbp, dsp, PG, 'no_rule'], // consumer outside the scope (blog)
      [wsp, dsd, PG, 'no_rule'], // provider outside the scope
      [wsp, dsp, TCP(80), 'no_rule'], // other port
      [dsp, wsp, PG, 'no_rule'], // rules are directed
    ],
  },
  {
    name: 'several scopes: applied once per scope, never across scopes',
    policy: oneRule({
      scopes: [[scopeLabel('shop')], [scopeLabel('blog')]],
      providers: [label('db')],
      consumers: [label('web')],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [wbp, dbp, PG, A],
      [wsd, dsd, PG, A],
      [wsp, dbp, PG, 'no_rule'],
      [wbp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'extra-scope: providers narrowed by the scope, consumers not',
    policy: oneRule({
      scopes: [[scopeLabel('shop'), scopeLabel('prod')]],
      providers: [label('db')],
      consumers: [label('web')],
      unscoped: true,
    }),
    flows: [
      [wbp, dsp, PG, A],
      [wsd, dsp, PG, A],
      [wsp, dbp, PG, 'no_rule'],
      [wsp, dsd, PG, 'no_rule'],
    ],
  },
  ...([[], [[]], [[scopeLabel('shop')], []]] as ScopeTerm[][][]).map((scopes): Case => ({
    name: `scopes ${JSON.stringify(scopes)} mean everything`,
    policy: oneRule({ scopes, providers: [label('db')], consumers: [label('web')] }),
    flows: [
      [wbp, dsd, PG, A],
      [wsd, dbp, PG, A],
    ],
  })),
  {
    name: 'scope exclusion: the scope minus what the excluded label selects',
    policy: oneRule({
      scopes: [[scopeLabel('shop'), scopeLabel('dev', true)]],
      providers: [label('db')],
      consumers: [label('web')],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [wsd, dsd, PG, 'no_rule'],
      [wbp, dbp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label terms: same key OR, different keys AND ((web ∪ api) ∩ prod)',
    policy: oneRule({
      providers: [label('db'), label('shop')],
      consumers: [label('web'), label('api'), label('prod')],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [asp, dsp, PG, A],
      [wbp, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'], // dev
      [dbp, dsp, PG, 'no_rule'], // role db
      [wsp, dbp, PG, 'no_rule'], // provider db ∩ shop: blog is not
    ],
  },
  {
    name: 'label group: OR of its labels, nested sub-groups flattened, AND with other keys',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [group(groupHref(2)), group(groupHref(3))] }),
      label_groups: [
        labelGroup(1, 'role', ['web']),
        labelGroup(2, 'role', ['api'], [1]),
        labelGroup(3, 'env', ['prod']),
      ],
    },
    flows: [
      [wsp, dsp, PG, A],
      [asp, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'],
      [dbp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label group: same key as a label term is OR-ed with it',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [group(groupHref(1)), label('api')] }),
      label_groups: [labelGroup(1, 'role', ['web'])],
    },
    flows: [
      [wsd, dsp, PG, A],
      [asp, dsp, PG, A],
      [dbp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label group cycles are guarded (each group counted once)',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [group(groupHref(1))] }),
      label_groups: [labelGroup(1, 'role', ['web'], [2]), labelGroup(2, 'role', ['api'], [1])],
    },
    flows: [
      [wsp, dsp, PG, A],
      [asp, dsp, PG, A],
      [dbp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label group in a scope',
    policy: {
      ...oneRule({
        scopes: [[{ label_group: { href: groupHref(4) } }]],
        providers: [label('db')],
        consumers: [label('web')],
      }),
      label_groups: [labelGroup(4, 'app', ['blog'])],
    },
    flows: [
      [wbp, dbp, PG, A],
      [wsp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'ams selects every workload, unmanaged and nodes included',
    policy: oneRule({ providers: [label('db')], consumers: [ams] }),
    flows: [
      [EXT, dsp, PG, A],
      [N1, dsp, PG, A],
      [csp, dsp, PG, A],
      ['10.9.9.9', dsp, PG, 'no_rule'], // an address outside the inventory is no workload
    ],
  },
  {
    name: 'exclusions: each excluded actor removes what it alone selects (ours)',
    policy: oneRule({ providers: [label('db')], consumers: [ams, label('dev', true), label('api', true)] }),
    flows: [
      [wsp, dsp, PG, A],
      [wbp, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'], // dev
      [asp, dsp, PG, 'no_rule'], // api, though prod
    ],
  },
  {
    name: 'exclusions alone start from all workloads (ours)',
    policy: oneRule({ providers: [label('db')], consumers: [label('dev', true)] }),
    flows: [
      [wbp, dsp, PG, A],
      [EXT, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'exclusions narrow label terms, and a workload can be excluded by href',
    policy: oneRule({
      providers: [label('db')],
      consumers: [label('web'), label('blog', true), workloadActor(wsd, true)],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [wbp, dsp, PG, 'no_rule'],
      [wsd, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'workload actor is an alternative OR-ed with the label terms',
    policy: oneRule({ providers: [label('db')], consumers: [label('api'), label('prod'), workloadActor(wsd)] }),
    flows: [
      [asp, dsp, PG, A],
      [wsd, dsp, PG, A],
      [wsp, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'workload actors are narrowed by an intra scope',
    policy: oneRule({
      scopes: [[scopeLabel('prod')]],
      providers: [label('db')],
      consumers: [workloadActor(wsd), workloadActor(wsp)],
    }),
    flows: [
      [wsp, dsp, PG, A],
      [wsd, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'an empty actor list selects nothing',
    policy: oneRule({ providers: [label('db')], consumers: [] }),
    flows: [[wsp, dsp, PG, 'no_rule']],
  },
  {
    name: 'IP list: its ranges minus its exclusion ranges (FQDNs not enforced)',
    policy: {
      ...oneRule({ providers: [label('web')], consumers: [ipListActor(ipListHref(1))], services: [tcp(443)] }),
      ip_lists: [
        ipList(1, [{ from_ip: '172.16.0.0/16' }, { from_ip: '172.16.0.0', to_ip: '172.16.0.127', exclusion: true }]),
      ],
    },
    flows: [
      ['172.16.1.9', wsp, TCP(443), A],
      ['172.16.0.200', wsp, TCP(443), A],
      ['172.16.0.5', wsp, TCP(443), 'no_rule'],
      [EXT, wsp, TCP(443), 'no_rule'], // 172.16.0.5, excluded range
      ['10.9.9.9', wsp, TCP(443), 'no_rule'],
    ],
  },
  {
    name: 'IP list as provider: outbound at the consumers',
    policy: {
      ...oneRule({
        providers: [ipListActor(ipListHref(2))],
        consumers: [label('web')],
        services: [{ proto: 17, port: 53 }],
      }),
      ip_lists: [ipList(2, [{ from_ip: '8.8.8.0/24' }, { from_ip: '2001:4860::', to_ip: '2001:4860::ff' }])],
    },
    flows: [
      [wsp, '8.8.8.8', UDP(53), A],
      [wsp, '2001:4860::88', UDP(53), A],
      [wsp, '::ffff:8.8.8.8', UDP(53), A], // IPv4-mapped counts as IPv4
      [wsp, '8.8.4.4', UDP(53), 'no_rule'],
      [dsp, '8.8.8.8', UDP(53), 'no_rule'],
    ],
  },
  {
    name: 'IP lists are never narrowed by the scope',
    policy: {
      ...oneRule({
        scopes: [[scopeLabel('shop'), scopeLabel('prod')]],
        providers: [label('db')],
        consumers: [ipListActor(ipListHref(1))],
      }),
      ip_lists: [ipList(1, [{ from_ip: '172.16.0.0/16' }])],
    },
    flows: [
      ['172.16.9.9', dsp, PG, A],
      // An IP list selects addresses, not workloads: the unmanaged workload in its
      // range is allowed in, but gets no outbound entry from this rule.
      [EXT, dsp, PG, `${A} | outbound no_rule`],
      ['172.16.9.9', dsd, PG, 'no_rule'], // the provider still is narrowed
    ],
  },
  {
    name: 'virtual service provider with no services: its ports, inbound at its backends, its address to consumers',
    policy: {
      ...oneRule({ providers: [vsActor(vsHref(1))], consumers: [label('web')], services: [] }),
      virtual_services: [
        virtualService(1, { backends: [dsp], ips: ['10.96.0.10'], ports: [{ proto: 6, port: 5432 }] }),
      ],
    },
    flows: [
      [wsp, dsp, PG, A],
      [wsp, '10.96.0.10', PG, A],
      [wsp, dsp, TCP(80), 'no_rule'],
      [wsp, dsd, PG, 'no_rule'],
    ],
  },
  {
    name: 'virtual services are never narrowed by the scope',
    policy: {
      ...oneRule({
        scopes: [[scopeLabel('blog')]],
        providers: [vsActor(vsHref(1))],
        consumers: [label('web')],
        services: [],
      }),
      virtual_services: [
        virtualService(1, { backends: [dsp], ips: ['10.96.0.10'], ports: [{ proto: 6, port: 5432 }] }),
      ],
    },
    flows: [
      [wbp, dsp, PG, A],
      [wsp, dsp, PG, 'no_rule'], // the consumer is narrowed (intra-scope)
    ],
  },
  {
    name: 'resolve_labels_as virtual_services: label terms select the virtual services carrying them',
    policy: {
      ...oneRule({
        providers: [label('cache')],
        consumers: [label('web')],
        services: [],
        resolve: { providers: ['virtual_services'] },
      }),
      virtual_services: [
        virtualService(2, {
          labels: ['cache'],
          backends: [dsd],
          ips: ['10.96.0.20'],
          ports: [{ proto: 6, port: 6379 }],
        }),
      ],
    },
    flows: [
      [wsp, dsd, TCP(6379), A],
      [wsp, '10.96.0.20', TCP(6379), A],
      [wsp, csp, TCP(6379), 'no_rule'], // the workload labelled cache is not selected
    ],
  },
  {
    name: 'resolve_labels_as both: workloads and virtual services',
    policy: {
      ...oneRule({
        providers: [label('cache')],
        consumers: [label('web')],
        services: [tcp(6379)],
        resolve: { providers: ['workloads', 'virtual_services'] },
      }),
      virtual_services: [virtualService(2, { labels: ['cache'], backends: [dsd], ips: ['10.96.0.20'] })],
    },
    flows: [
      [wsp, dsd, TCP(6379), A],
      [wsp, csp, TCP(6379), A],
      [wsp, '10.96.0.20', TCP(6379), A],
    ],
  },
  {
    name: 'virtual service consumer: outbound at its backends (ours)',
    policy: {
      ...oneRule({ providers: [label('web')], consumers: [vsActor(vsHref(1))], services: [tcp(80)] }),
      virtual_services: [virtualService(1, { backends: [dsp], ips: ['10.96.0.10'] })],
    },
    flows: [
      [dsp, wsp, TCP(80), A],
      [dsd, wsp, TCP(80), 'no_rule'],
    ],
  },
  {
    name: 'container_host: the node hosting the provider, extra-scope, not narrowed by the scope',
    policy: oneRule({
      scopes: [[scopeLabel('shop')]],
      providers: [label('web')],
      consumers: [containerHost],
      services: [tcp(8080)],
      unscoped: true,
    }),
    flows: [
      [N1, wsp, TCP(8080), A], // wsp runs on N1
      [N2, wsp, TCP(8080), 'no_rule'],
      [N2, wsd, TCP(8080), A], // wsd runs on N2
      [N1, wsd, TCP(8080), 'no_rule'],
      [N2, wbp, TCP(8080), 'no_rule'], // blog: provider outside the scope
      [dsp, wsp, TCP(8080), 'no_rule'],
    ],
  },
  {
    name: 'container_host together with other consumers',
    policy: oneRule({ providers: [label('db')], consumers: [containerHost, label('web')], unscoped: true }),
    flows: [
      [N1, dsp, PG, A],
      [wsd, dsp, PG, A],
      [N2, dsp, PG, 'no_rule'],
    ],
  },
  {
    name: '"All Services" matches every protocol and port',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [label('web')], services: [{ href: serviceHref(1) }] }),
      services: [service(1, 'All Services', [{ proto: -1 }])],
    },
    flows: [
      [wsp, dsp, TCP(1), A],
      [wsp, dsp, UDP(53), A],
      [wsp, dsp, { proto: 1, icmp_type: 8, icmp_code: 0 }, A],
      [wsp, dsp, { proto: 132, port: 9 }, A],
    ],
  },
  {
    name: 'named service: port ranges and several ports',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [label('web')], services: [{ href: serviceHref(2) }] }),
      services: [
        service(2, 'web', [
          { proto: 6, port: 8000, to_port: 8080 },
          { proto: 17, port: 53 },
        ]),
      ],
    },
    flows: [
      [wsp, dsp, TCP(8000), A],
      [wsp, dsp, TCP(8080), A],
      [wsp, dsp, TCP(8081), 'no_rule'],
      [wsp, dsp, TCP(7999), 'no_rule'],
      [wsp, dsp, UDP(53), A],
      [wsp, dsp, TCP(53), 'no_rule'],
    ],
  },
  {
    name: 'inline ports: range, all protocols of one kind, proto -1',
    policy: oneRule({
      providers: [label('db')],
      consumers: [label('web')],
      services: [tcp(3000, 3005), { proto: 17 }],
    }),
    flows: [
      [wsp, dsp, TCP(3003), A],
      [wsp, dsp, TCP(3006), 'no_rule'],
      [wsp, dsp, UDP(9999), A],
      [wsp, dsp, { proto: 1, icmp_type: 8 }, 'no_rule'],
    ],
  },
  {
    name: 'ICMP and ICMPv6 type and code',
    policy: oneRule({
      providers: [label('db')],
      consumers: [label('web')],
      services: [
        { proto: 1, icmp_type: 8 },
        { proto: 58, icmp_type: 128, icmp_code: 0 },
      ],
    }),
    flows: [
      [wsp, dsp, { proto: 1, icmp_type: 8, icmp_code: 0 }, A],
      [wsp, dsp, { proto: 1, icmp_type: 0, icmp_code: 0 }, 'no_rule'],
      [wsp, dsp, { proto: 58, icmp_type: 128, icmp_code: 0 }, A],
      [wsp, dsp, { proto: 58, icmp_type: 128, icmp_code: 1 }, 'no_rule'],
    ],
  },
  {
    name: 'precedence: override_deny > allow > deny > no_rule',
    policy: {
      rule_sets: [
        ruleSet(1, {
          rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] })],
          deny_rules: [
            denyRule(1, {
              id: 1,
              providers: [label('db')],
              consumers: [ams],
              services: [{ proto: -1 }],
              unscoped: true,
            }),
            denyRule(1, {
              id: 2,
              providers: [label('db')],
              consumers: [label('dev')],
              services: [tcp(5432)],
              override: true,
            }),
          ],
        }),
      ],
    },
    flows: [
      [wsp, dsp, PG, A], // allow beats deny
      [wsp, dsp, TCP(22), denied(1, 1)],
      [asp, dsp, PG, denied(1, 1)],
      [wsd, dsp, PG, overridden(1, 2)], // override-deny beats allow
      [dsp, wsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'among rules of one kind the lowest href wins, numeric segments numerically',
    policy: {
      rule_sets: [
        ruleSet(1, {
          rules: [
            allowRule(1, { id: 10, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] }),
            allowRule(1, { id: 9, providers: [label('db')], consumers: [ams], services: [{ proto: -1 }] }),
          ],
        }),
      ],
    },
    flows: [
      [wsp, dsp, PG, allowed(1, 9)],
      [asp, dsp, PG, allowed(1, 9)],
    ],
  },
  {
    name: 'disabled rulesets and disabled rules are ignored',
    policy: {
      rule_sets: [
        ruleSet(1, {
          enabled: false,
          rules: [allowRule(1, { id: 1, providers: [label('db')], consumers: [label('web')], services: [tcp(5432)] })],
        }),
        ruleSet(2, {
          rules: [
            allowRule(2, {
              id: 1,
              enabled: false,
              providers: [label('db')],
              consumers: [label('web')],
              services: [tcp(5432)],
            }),
          ],
          deny_rules: [
            denyRule(2, {
              id: 1,
              enabled: false,
              providers: [label('db')],
              consumers: [ams],
              services: [{ proto: -1 }],
            }),
          ],
        }),
      ],
    },
    flows: [[wsp, dsp, PG, 'no_rule']],
  },
];

describe('policy semantics (POLICY.md), decided at both ends', () => {
  const inventory = standardWorkloads();
  it.each(cases)('$name', ({ policy, flows }) => {
    const c = new PolicyCompiler(input(policy, inventory));
    const got = flows.map(([from, to, svc]) => flowVerdict(c, inventory, from, to, svc));
    expect(got).toEqual(flows.map((f) => f[3]));
  });
});
