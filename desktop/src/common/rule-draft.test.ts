// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The rule a map edge drafts: scoped to what both ends share, sides as the rest of their labels.
import { describe, expect, it } from 'vitest';
import { ruleForEdge } from './rule-draft.js';

const labels = [
  { href: '/l/app-shop', key: 'app', value: 'shop' },
  { href: '/l/env-prod', key: 'env', value: 'prod' },
  { href: '/l/env-dev', key: 'env', value: 'dev' },
  { href: '/l/role-web', key: 'role', value: 'web' },
  { href: '/l/role-api', key: 'role', value: 'api' },
];

describe('ruleForEdge', () => {
  it('scopes to the shared env and writes the roles as the sides', () => {
    const d = ruleForEdge(
      {
        source: { role: 'web', env: 'prod' },
        target: { role: 'api', env: 'prod' },
        ports: [
          { port: 8080, proto: 6 },
          { port: 0, proto: 1 },
        ],
      },
      labels,
    );
    expect(d.problems).toEqual([]);
    expect(d.ruleset.scopes).toEqual([[{ label: { href: '/l/env-prod' } }]]);
    expect(d.rule.consumers).toEqual([{ label: { href: '/l/role-web' } }]);
    expect(d.rule.providers).toEqual([{ label: { href: '/l/role-api' } }]);
    expect(d.rule.ingress_services).toEqual([{ port: 8080, proto: 6 }, { proto: 1 }]);
  });

  it('uses all workloads of the scope for a side whose labels all lie in it, and reports addresses', () => {
    const d = ruleForEdge(
      { source: { app: 'shop', env: 'prod' }, target: { app: 'shop', env: 'prod' }, ports: [] },
      labels,
    );
    expect(d.ruleset.scopes).toEqual([[{ label: { href: '/l/env-prod' } }]]);
    expect(d.rule.consumers).toEqual([{ label: { href: '/l/app-shop' } }]);
    const ip = ruleForEdge({ source: { ip: '198.18.0.254' }, target: { app: 'shop', env: 'dev' }, ports: [] }, labels);
    expect(ip.problems[0]).toMatch(/198.18.0.254 is an address/);
    const gone = ruleForEdge({ source: { app: 'gone' }, target: { app: 'shop' }, ports: [] }, labels);
    expect(gone.problems[0]).toMatch(/app=gone does not exist/);
  });
});
