// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// POLICY.md "Selecting workloads: actors" and "Rulesets and scopes", clause by clause.
// Each case compiles a policy against the standard inventory (test-support.ts)
// and asserts the exact verdict and deciding rule of each flow, at both ends.
import { describe, expect, it } from 'vitest';
import type { ScopeTerm } from '../api/policy-objects.js';
import {
  A,
  ams,
  containerHost,
  group,
  groupHref,
  ipList,
  ipListActor,
  ipListHref,
  label,
  labelGroup,
  N1,
  N2,
  oneRule,
  PG,
  scopeLabel,
  tcp,
  TCP,
  UDP,
  virtualService,
  vsActor,
  vsHref,
  W,
  workloadActor,
  decideCase,
  type SemanticsCase,
} from './test-support.js';

const cases: SemanticsCase[] = [
  {
    name: 'intra-scope: consumers and providers both in the scope',
    policy: oneRule({
      scopes: [[scopeLabel('shop'), scopeLabel('prod')]],
      providers: [label('db')],
      consumers: [label('web')],
    }),
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'], // consumer outside the scope (dev)
      [W.wbp, W.dsp, PG, 'no_rule'], // consumer outside the scope (blog)
      [W.wsp, W.dsd, PG, 'no_rule'], // provider outside the scope
      [W.wsp, W.dsp, TCP(80), 'no_rule'], // other port
      [W.dsp, W.wsp, PG, 'no_rule'], // rules are directed
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
      [W.wsp, W.dsp, PG, A],
      [W.wbp, W.dbp, PG, A],
      [W.wsd, W.dsd, PG, A],
      [W.wsp, W.dbp, PG, 'no_rule'],
      [W.wbp, W.dsp, PG, 'no_rule'],
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
      [W.wbp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, A],
      [W.wsp, W.dbp, PG, 'no_rule'],
      [W.wsp, W.dsd, PG, 'no_rule'],
    ],
  },
  ...([[], [[]], [[scopeLabel('shop')], []]] as ScopeTerm[][][]).map((scopes): SemanticsCase => ({
    name: `scopes ${JSON.stringify(scopes)} mean everything`,
    policy: oneRule({ scopes, providers: [label('db')], consumers: [label('web')] }),
    flows: [
      [W.wbp, W.dsd, PG, A],
      [W.wsd, W.dbp, PG, A],
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
      [W.wsp, W.dsp, PG, A],
      [W.wsd, W.dsd, PG, 'no_rule'],
      [W.wbp, W.dbp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label terms: same key OR, different keys AND ((web ∪ api) ∩ prod)',
    policy: oneRule({
      providers: [label('db'), label('shop')],
      consumers: [label('web'), label('api'), label('prod')],
    }),
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.asp, W.dsp, PG, A],
      [W.wbp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'], // dev
      [W.dbp, W.dsp, PG, 'no_rule'], // role db
      [W.wsp, W.dbp, PG, 'no_rule'], // provider db ∩ shop: blog is not
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
      [W.wsp, W.dsp, PG, A],
      [W.asp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'],
      [W.dbp, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label group: same key as a label term is OR-ed with it',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [group(groupHref(1)), label('api')] }),
      label_groups: [labelGroup(1, 'role', ['web'])],
    },
    flows: [
      [W.wsd, W.dsp, PG, A],
      [W.asp, W.dsp, PG, A],
      [W.dbp, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'label group cycles are guarded (each group counted once)',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [group(groupHref(1))] }),
      label_groups: [labelGroup(1, 'role', ['web'], [2]), labelGroup(2, 'role', ['api'], [1])],
    },
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.asp, W.dsp, PG, A],
      [W.dbp, W.dsp, PG, 'no_rule'],
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
      [W.wbp, W.dbp, PG, A],
      [W.wsp, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'ams selects every workload, unmanaged and nodes included',
    policy: oneRule({ providers: [label('db')], consumers: [ams] }),
    flows: [
      [W.ext, W.dsp, PG, A],
      [N1, W.dsp, PG, A],
      [W.csp, W.dsp, PG, A],
      ['10.9.9.9', W.dsp, PG, 'no_rule'], // an address outside the inventory is no workload
    ],
  },
  {
    name: 'exclusions: each excluded actor removes what it alone selects (ours)',
    policy: oneRule({ providers: [label('db')], consumers: [ams, label('dev', true), label('api', true)] }),
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.wbp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'], // dev
      [W.asp, W.dsp, PG, 'no_rule'], // api, though prod
    ],
  },
  {
    name: 'exclusions alone start from all workloads (ours)',
    policy: oneRule({ providers: [label('db')], consumers: [label('dev', true)] }),
    flows: [
      [W.wbp, W.dsp, PG, A],
      [W.ext, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'exclusions narrow label terms, and a workload can be excluded by href',
    policy: oneRule({
      providers: [label('db')],
      consumers: [label('web'), label('blog', true), workloadActor(W.wsd, true)],
    }),
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.wbp, W.dsp, PG, 'no_rule'],
      [W.wsd, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'workload actor is an alternative OR-ed with the label terms',
    policy: oneRule({ providers: [label('db')], consumers: [label('api'), label('prod'), workloadActor(W.wsd)] }),
    flows: [
      [W.asp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, A],
      [W.wsp, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'workload actors are narrowed by an intra scope',
    policy: oneRule({
      scopes: [[scopeLabel('prod')]],
      providers: [label('db')],
      consumers: [workloadActor(W.wsd), workloadActor(W.wsp)],
    }),
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, 'no_rule'],
    ],
  },
  {
    name: 'an empty consumer list selects nothing',
    policy: oneRule({ providers: [label('db')], consumers: [] }),
    flows: [[W.wsp, W.dsp, PG, 'no_rule']],
  },
  {
    name: 'an empty provider list selects nothing',
    policy: oneRule({ providers: [], consumers: [label('web')] }),
    flows: [[W.wsp, W.dsp, PG, 'no_rule']],
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
      ['172.16.1.9', W.wsp, TCP(443), A],
      ['172.16.0.200', W.wsp, TCP(443), A],
      ['172.16.0.5', W.wsp, TCP(443), 'no_rule'],
      [W.ext, W.wsp, TCP(443), 'no_rule'], // 172.16.0.5, excluded range
      ['10.9.9.9', W.wsp, TCP(443), 'no_rule'],
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
      [W.wsp, '8.8.8.8', UDP(53), A],
      [W.wsp, '2001:4860::88', UDP(53), A],
      [W.wsp, '::ffff:8.8.8.8', UDP(53), A], // IPv4-mapped counts as IPv4
      [W.wsp, '8.8.4.4', UDP(53), 'no_rule'],
      [W.dsp, '8.8.8.8', UDP(53), 'no_rule'],
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
      ['172.16.9.9', W.dsp, PG, A],
      // An IP list selects addresses, not workloads: the unmanaged workload in its
      // range is allowed in, but gets no outbound entry from this rule.
      [W.ext, W.dsp, PG, `${A} | outbound no_rule`],
      ['172.16.9.9', W.dsd, PG, 'no_rule'], // the provider still is narrowed
    ],
  },
  {
    name: 'virtual service provider with no services: its ports, inbound at its backends, its address to consumers',
    policy: {
      ...oneRule({ providers: [vsActor(vsHref(1))], consumers: [label('web')], services: [] }),
      virtual_services: [
        virtualService(1, { backends: [W.dsp], ips: ['10.96.0.10'], ports: [{ proto: 6, port: 5432 }] }),
      ],
    },
    flows: [
      [W.wsp, W.dsp, PG, A],
      [W.wsp, '10.96.0.10', PG, A],
      [W.wsp, W.dsp, TCP(80), 'no_rule'],
      [W.wsp, W.dsd, PG, 'no_rule'],
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
        virtualService(1, { backends: [W.dsp], ips: ['10.96.0.10'], ports: [{ proto: 6, port: 5432 }] }),
      ],
    },
    flows: [
      [W.wbp, W.dsp, PG, A],
      [W.wsp, W.dsp, PG, 'no_rule'], // the consumer is narrowed (intra-scope)
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
          backends: [W.dsd],
          ips: ['10.96.0.20'],
          ports: [{ proto: 6, port: 6379 }],
        }),
      ],
    },
    flows: [
      [W.wsp, W.dsd, TCP(6379), A],
      [W.wsp, '10.96.0.20', TCP(6379), A],
      [W.wsp, W.csp, TCP(6379), 'no_rule'], // the workload labelled cache is not selected
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
      virtual_services: [virtualService(2, { labels: ['cache'], backends: [W.dsd], ips: ['10.96.0.20'] })],
    },
    flows: [
      [W.wsp, W.dsd, TCP(6379), A],
      [W.wsp, W.csp, TCP(6379), A],
      [W.wsp, '10.96.0.20', TCP(6379), A],
    ],
  },
  {
    name: 'virtual service consumer: outbound at its backends (ours)',
    policy: {
      ...oneRule({ providers: [label('web')], consumers: [vsActor(vsHref(1))], services: [tcp(80)] }),
      virtual_services: [virtualService(1, { backends: [W.dsp], ips: ['10.96.0.10'] })],
    },
    flows: [
      [W.dsp, W.wsp, TCP(80), A],
      [W.dsd, W.wsp, TCP(80), 'no_rule'],
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
      [N1, W.wsp, TCP(8080), A], // W.wsp runs on N1
      [N2, W.wsp, TCP(8080), 'no_rule'],
      [N2, W.wsd, TCP(8080), A], // W.wsd runs on N2
      [N1, W.wsd, TCP(8080), 'no_rule'],
      [N2, W.wbp, TCP(8080), 'no_rule'], // blog: provider outside the scope
      [W.dsp, W.wsp, TCP(8080), 'no_rule'],
    ],
  },
  {
    name: 'container_host together with other consumers',
    policy: oneRule({ providers: [label('db')], consumers: [containerHost, label('web')], unscoped: true }),
    flows: [
      [N1, W.dsp, PG, A],
      [W.wsd, W.dsp, PG, A],
      [N2, W.dsp, PG, 'no_rule'],
    ],
  },
];

describe('actors and scopes (POLICY.md)', () => {
  it.each(cases)('$name', (c) => {
    expect(decideCase(c)).toEqual(c.flows.map((f) => f[3]));
  });
});
