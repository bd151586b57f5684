// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The console's routing by source (connect first; offline only the traffic views), reset on a
// source change, and the policy state's derived counts and rule names.
import { describe, expect, it } from 'vitest';
import type { RuleSet } from '@bulkhead/pce/api';
import { ConsoleState, parseRoute } from './console.svelte.js';

const snapshot = { name: 's.sqlite', createdAt: '', query: undefined, flows: [] };

describe('ConsoleState', () => {
  it('shows connect until there is a source, and offline only the views that work without a PCE', () => {
    const c = new ConsoleState();
    c.route = 'rulesets';
    expect(c.view).toBe('connect');
    c.route = 'offline';
    expect(c.view).toBe('offline');
    c.session.openOffline(snapshot);
    c.route = 'rulesets';
    expect(c.view).toBe('explorer');
    c.route = 'map';
    expect(c.view).toBe('map');
    expect(parseRoute('#/provision')).toBe('provision');
    expect(parseRoute('#/nonsense')).toBe('overview');
  });

  it('forgets the previous source results on reset', () => {
    const c = new ConsoleState();
    c.map.selected = 'a>b';
    c.explorer.hasDraft = true;
    c.reset();
    expect(c.map.selected).toBeUndefined();
    expect(c.explorer.hasDraft).toBe(false);
  });

  it('counts pending changes and names rules by ruleset', () => {
    const c = new ConsoleState();
    const p = c.policy;
    expect(p.pendingCount).toBe(0);
    p.pending = {
      rule_sets: [{ href: '/r/1', name: 'a', update_type: 'create' }],
      label_groups: [],
      services: [{ href: '/s/1', name: 'b', update_type: 'update' }],
      ip_lists: [],
      virtual_services: [],
    };
    expect(p.pendingCount).toBe(2);
    p.ruleSets = [
      {
        href: '/orgs/1/sec_policy/draft/rule_sets/1',
        name: 'shop prod',
        rules: [
          { href: '/orgs/1/sec_policy/draft/rule_sets/1/sec_rules/1' },
          { href: '/orgs/1/sec_policy/draft/rule_sets/1/sec_rules/2' },
        ],
        deny_rules: [{ href: '/orgs/1/sec_policy/draft/rule_sets/1/deny_rules/1' }],
      } as unknown as RuleSet,
    ];
    expect(p.ruleName('/orgs/1/sec_policy/active/rule_sets/1/sec_rules/2')).toBe('shop prod, rule 2');
    expect(p.ruleName('/orgs/1/sec_policy/7/rule_sets/1/deny_rules/1')).toBe('shop prod, deny rule 1');
    expect(p.ruleName('/orgs/1/sec_policy/active/rule_sets/9/sec_rules/1')).toBeUndefined();
  });
});
