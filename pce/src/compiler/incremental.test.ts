// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Incremental upkeep equals a full recompile: after each change, every node's
// policy from the updated `PolicyCompiler` is byte-identical to `compileAll`
// on the changed inventory, and the nodes reported changed are exactly those
// whose policy differs.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodePolicy } from '../api/node-policy.js';
import type { PolicyContent } from '../api/policy-objects.js';
import { compileAll, PolicyCompiler } from './compile.js';
import type { InventoryWorkload } from './input.js';
import { Selector } from './selectors.js';
import {
  allowRule,
  ams,
  containerHost,
  cw,
  denyRule,
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
  node,
  pod,
  ruleSet,
  scopeLabel,
  standardWorkloads,
  tcp,
  unmanaged,
  virtualService,
  vsActor,
  vsHref,
} from './test-support.js';

const N3 = '/orgs/1/workloads/400';

/** A policy touching every kind of selector: scopes, groups, exclusions, IP lists, virtual services, container_host. */
const rich: Partial<PolicyContent> = {
  rule_sets: [
    ruleSet(1, {
      scopes: [[scopeLabel('shop'), scopeLabel('prod')], [scopeLabel('blog')]],
      rules: [
        allowRule(1, {
          id: 1,
          providers: [label('db')],
          consumers: [label('web'), label('api')],
          services: [tcp(5432)],
        }),
        allowRule(1, {
          id: 2,
          providers: [label('web')],
          consumers: [containerHost],
          services: [tcp(8080)],
          unscoped: true,
        }),
        allowRule(1, {
          id: 3,
          providers: [group(groupHref(1))],
          consumers: [ipListActor(ipListHref(1))],
          services: [tcp(443)],
          unscoped: true,
        }),
      ],
      deny_rules: [
        denyRule(1, {
          id: 1,
          providers: [label('db')],
          consumers: [ams, label('prod', true)],
          services: [{ proto: -1 }],
          unscoped: true,
        }),
      ],
    }),
    ruleSet(2, {
      rules: [
        allowRule(2, { id: 1, providers: [vsActor(vsHref(1))], consumers: [label('web')], services: [] }),
        allowRule(2, { id: 2, providers: [label('web')], consumers: [label('dev', true)], services: [tcp(80)] }),
      ],
    }),
  ],
  label_groups: [labelGroup(1, 'role', ['web'], [2]), labelGroup(2, 'role', ['api'])],
  ip_lists: [ipList(1, [{ from_ip: '172.16.0.0/12' }, { from_ip: '172.16.0.0/24', exclusion: true }])],
  virtual_services: [
    virtualService(1, {
      backends: [cw('db-shop-prod'), cw('new')],
      ips: ['10.96.0.10'],
      ports: [{ proto: 6, port: 5432 }],
    }),
  ],
};

type Change = { upsert: InventoryWorkload } | { remove: string };

function apply(inv: InventoryWorkload[], ch: Change): InventoryWorkload[] {
  const href = 'upsert' in ch ? ch.upsert.href : ch.remove;
  const i = inv.findIndex((w) => w.href === href);
  const out = [...inv];
  if ('remove' in ch) {
    if (i >= 0) out.splice(i, 1);
  } else if (i >= 0) out[i] = ch.upsert;
  else out.push(ch.upsert);
  return out;
}

const asJson = (m: Map<string, NodePolicy>) => new Map([...m].map(([k, v]) => [k, JSON.stringify(v)]));
const std = (name: string) => standardWorkloads().find((w) => w.href === cw(name))!;

const cases: { name: string; start?: InventoryWorkload[]; changes: Change[] }[] = [
  { name: 'add a container workload', changes: [{ upsert: pod('new', ['web', 'shop', 'prod'], '10.0.0.9') }] },
  { name: 'add a virtual-service backend', changes: [{ upsert: pod('new', ['cache'], '10.0.0.10', { node: N2 }) }] },
  { name: 'remove a container workload', changes: [{ remove: cw('db-shop-prod') }] },
  {
    name: 'change labels: role web → api',
    changes: [{ upsert: pod('web-shop-prod', ['api', 'shop', 'prod'], '10.0.0.1') }],
  },
  {
    name: 'change labels: leave the scope (prod → dev)',
    changes: [{ upsert: pod('db-shop-prod', ['db', 'shop', 'dev'], '10.0.0.3') }],
  },
  {
    name: 'change labels: drop every label',
    changes: [{ upsert: pod('web-blog-prod', [], '10.0.2.1', { node: N2 }) }],
  },
  { name: 'change address', changes: [{ upsert: pod('db-shop-prod', ['db', 'shop', 'prod'], '10.0.5.5') }] },
  {
    name: 'change address to one another member already has (set unchanged)',
    changes: [{ upsert: { ...std('web-shop-dev'), addresses: ['10.0.0.1'] } }],
  },
  { name: 'change mode: full → idle', changes: [{ upsert: { ...std('api-shop-prod'), enforcement_mode: 'idle' } }] },
  {
    name: 'change mode: idle → selective',
    changes: [{ upsert: { ...std('cache-shop-prod'), enforcement_mode: 'selective' } }],
  },
  {
    name: 'move to another node',
    changes: [{ upsert: pod('web-shop-prod', ['web', 'shop', 'prod'], '10.0.0.1', { node: N2 }) }],
  },
  { name: 'change nothing', changes: [{ upsert: std('db-shop-dev') }] },
  {
    name: 'add a node whose container workloads were already known',
    start: [...standardWorkloads(), pod('early', ['web', 'shop', 'prod'], '10.0.3.1', { node: N3 })],
    changes: [{ upsert: node(N3, '192.168.0.3') }],
  },
  { name: 'remove a node', changes: [{ remove: N1 }] },
  { name: 'change a node to idle', changes: [{ upsert: node(N2, '192.168.0.2', 'idle') }] },
  { name: 'add an unmanaged workload', changes: [{ upsert: unmanaged(301, ['web', 'blog'], '172.17.0.1') }] },
  { name: 'remove a workload that does not exist', changes: [{ remove: cw('nobody') }] },
  {
    name: 'a sequence: add, relabel, move, remove',
    changes: [
      { upsert: pod('new', ['web', 'shop', 'prod'], '10.0.0.9') },
      { upsert: pod('new', ['db', 'blog'], '10.0.0.9') },
      { upsert: pod('new', ['db', 'blog'], '10.0.0.9', { node: N2 }) },
      { upsert: pod('web-shop-prod', ['web', 'shop', 'dev'], '10.0.0.1') },
      { remove: cw('new') },
      { remove: cw('db-blog-prod') },
    ],
  },
];

describe('PolicyCompiler incremental updates equal a full recompile', () => {
  it.each(cases)('$name', ({ start = standardWorkloads(), changes }) => {
    const c = new PolicyCompiler(input(rich, start));
    let inv = start;
    for (const ch of changes) {
      const before = asJson(compileAll(input(rich, inv)));
      inv = apply(inv, ch);
      const after = asJson(compileAll(input(rich, inv)));
      const reported = 'upsert' in ch ? c.upsertWorkload(ch.upsert) : c.removeWorkload(ch.remove);

      expect(c.nodeHrefs()).toEqual([...after.keys()]);
      for (const [n, json] of after) expect(JSON.stringify(c.nodePolicy(n)), n).toBe(json);
      const differ = [...new Set([...before.keys(), ...after.keys()])].filter((n) => before.get(n) !== after.get(n));
      expect([...reported].sort()).toEqual(differ.sort());
    }
  });

  it('returns to the original policies after a change is undone', () => {
    const c = new PolicyCompiler(input(rich));
    const original = asJson(compileAll(input(rich)));
    c.upsertWorkload(pod('db-shop-prod', ['web', 'blog'], '10.0.7.7', { node: N2 }));
    c.upsertWorkload(std('db-shop-prod'));
    for (const [n, json] of original) expect(JSON.stringify(c.nodePolicy(n))).toBe(json);
  });
});

describe('PolicyCompiler incremental cost', () => {
  afterEach(() => vi.restoreAllMocks());

  it('tests only the changed workload, against only the selectors indexed under its labels, href or node', () => {
    const c = new PolicyCompiler(input(rich));
    const matches = vi.spyOn(Selector.prototype, 'matches');
    c.upsertWorkload(pod('web-shop-prod', ['api', 'shop', 'prod'], '10.0.0.1'));
    const targets = new Set(matches.mock.calls.map(([t]) => t.href));
    expect([...targets]).toEqual([cw('web-shop-prod')]);
    expect(matches.mock.calls.length).toBeLessThan(c.selectorCount);
  });

  it('leaves other workloads’ entries alone: a relabelled pod changes set elements, not rules', () => {
    const c = new PolicyCompiler(input(rich));
    const before = c.nodePolicy(N1)!.workloads.find((w) => w.href === cw('db-shop-prod'))!;
    c.upsertWorkload(pod('web-shop-prod', ['web', 'shop', 'dev'], '10.0.0.1'));
    const after = c.nodePolicy(N1)!.workloads.find((w) => w.href === cw('db-shop-prod'))!;
    expect(after).toBe(before);
    expect(
      c.nodePolicy(N1)!.sets[before.inbound.find((e) => e.action === 'allow')!.peers[0]!]!.workloads,
    ).not.toContain(cw('web-shop-prod'));
  });
});
