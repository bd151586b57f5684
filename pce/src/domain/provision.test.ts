// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { PROVISIONABLE_KINDS } from '../api/policy-objects.js';
import {
  dependenciesOf,
  pendingChanges,
  planProvision,
  type PolicyObjectLike,
  type VersionContent,
} from './provision.js';

const P = '/orgs/1/sec_policy/draft';

function content(objs: PolicyObjectLike[]): VersionContent {
  const c = {} as VersionContent;
  for (const k of PROVISIONABLE_KINDS) c[k] = new Map();
  for (const o of objs) {
    const [, kind, id] = /\/(\w+)\/(\d+)$/.exec(o.href)!;
    c[kind as keyof VersionContent].set(id!, o);
  }
  return c;
}

const svc = { href: `${P}/services/2`, name: 'pg' };
const lg = { href: `${P}/label_groups/1`, name: 'webs' };
const rs: PolicyObjectLike & { rules: unknown[] } = {
  href: `${P}/rule_sets/1`,
  name: 'shop',
  rules: [{ ingress_services: [{ href: svc.href }], providers: [{ label_group: { href: lg.href } }] }],
};
const other = { href: `${P}/ip_lists/3`, name: 'corp' };

describe('provisioning plan', () => {
  it('finds the provisionable objects an object names, not itself', () => {
    expect(
      dependenciesOf(rs)
        .map((d) => `${d.kind}/${d.id}`)
        .sort(),
    ).toEqual(['label_groups/1', 'services/2']);
  });

  it('lists creates, updates and deletes between draft and active', () => {
    const active = content([svc, other]);
    const draft = content([{ ...svc, name: 'postgres' }, rs, lg]);
    const kinds = pendingChanges(draft, active).map((c) => `${c.update_type} ${c.kind}/${c.id}`);
    expect(kinds.sort()).toEqual([
      'create label_groups/1',
      'create rule_sets/1',
      'delete ip_lists/3',
      'update services/2',
    ]);
  });

  it('brings the pending objects a subset depends on, and leaves the rest pending', () => {
    const draft = content([svc, lg, rs, other]);
    const { changes, next } = planProvision(draft, content([]), { rule_sets: [{ href: rs.href }] });
    expect(changes.map((c) => c.href).sort()).toEqual([lg.href, rs.href, svc.href].sort());
    expect(next.ip_lists.size).toBe(0);
  });

  it('refuses a subset naming an object with no pending change', () => {
    const draft = content([svc]);
    expect(() => planProvision(draft, content([]), { ip_lists: [{ href: other.href }] })).toThrow(
      'change_subset.ip_lists[0]: /orgs/1/sec_policy/draft/ip_lists/3 has no pending change',
    );
  });

  it('refuses to provision a deletion the new version would still use', () => {
    const active = content([svc, lg, rs]);
    const draft = content([lg, Object.assign({}, rs, { rules: [] })]);
    // Deleting the service alone leaves the active ruleset naming it.
    expect(() => planProvision(draft, active, { services: [{ href: svc.href }] })).toThrow(/would name .*services\/2/);
    // Together with the ruleset change it is fine.
    const { next } = planProvision(draft, active);
    expect(next.services.size).toBe(0);
  });

  it('says when there is nothing to provision', () => {
    expect(() => planProvision(content([svc]), content([svc]))).toThrow('there are no pending changes to provision');
  });
});
