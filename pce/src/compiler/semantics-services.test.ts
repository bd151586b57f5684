// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// POLICY.md "Services" and "Deciding a flow" (precedence), clause by clause.
// Each case compiles a policy against the standard inventory (test-support.ts)
// and asserts the exact verdict and deciding rule of each flow, at both ends.
import { describe, expect, it } from 'vitest';
import {
  A,
  allowRule,
  allowed,
  ams,
  denied,
  denyRule,
  label,
  oneRule,
  overridden,
  PG,
  ruleSet,
  service,
  serviceHref,
  tcp,
  TCP,
  UDP,
  W,
  decideCase,
  type SemanticsCase,
} from './test-support.js';

const cases: SemanticsCase[] = [
  {
    name: '"All Services" matches every protocol and port',
    policy: {
      ...oneRule({ providers: [label('db')], consumers: [label('web')], services: [{ href: serviceHref(1) }] }),
      services: [service(1, 'All Services', [{ proto: -1 }])],
    },
    flows: [
      [W.wsp, W.dsp, TCP(1), A],
      [W.wsp, W.dsp, UDP(53), A],
      [W.wsp, W.dsp, { proto: 1, icmp_type: 8, icmp_code: 0 }, A],
      [W.wsp, W.dsp, { proto: 132, port: 9 }, A],
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
      [W.wsp, W.dsp, TCP(8000), A],
      [W.wsp, W.dsp, TCP(8080), A],
      [W.wsp, W.dsp, TCP(8081), 'no_rule'],
      [W.wsp, W.dsp, TCP(7999), 'no_rule'],
      [W.wsp, W.dsp, UDP(53), A],
      [W.wsp, W.dsp, TCP(53), 'no_rule'],
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
      [W.wsp, W.dsp, TCP(3003), A],
      [W.wsp, W.dsp, TCP(3006), 'no_rule'],
      [W.wsp, W.dsp, UDP(9999), A],
      [W.wsp, W.dsp, { proto: 1, icmp_type: 8 }, 'no_rule'],
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
      [W.wsp, W.dsp, { proto: 1, icmp_type: 8, icmp_code: 0 }, A],
      [W.wsp, W.dsp, { proto: 1, icmp_type: 0, icmp_code: 0 }, 'no_rule'],
      [W.wsp, W.dsp, { proto: 58, icmp_type: 128, icmp_code: 0 }, A],
      [W.wsp, W.dsp, { proto: 58, icmp_type: 128, icmp_code: 1 }, 'no_rule'],
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
      [W.wsp, W.dsp, PG, A], // allow beats deny
      [W.wsp, W.dsp, TCP(22), denied(1, 1)],
      [W.asp, W.dsp, PG, denied(1, 1)],
      [W.wsd, W.dsp, PG, overridden(1, 2)], // override-deny beats allow
      [W.dsp, W.wsp, PG, 'no_rule'],
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
      [W.wsp, W.dsp, PG, allowed(1, 9)],
      [W.asp, W.dsp, PG, allowed(1, 9)],
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
    flows: [[W.wsp, W.dsp, PG, 'no_rule']],
  },
];

describe('services and precedence (POLICY.md)', () => {
  it.each(cases)('$name', (c) => {
    expect(decideCase(c)).toEqual(c.flows.map((f) => f[3]));
  });
});
