// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Policy objects as the console edits them: labels, and the draft's label
 * groups, services, IP lists and rulesets; the pending changes and their
 * diff against active; provisioning, reverting, the version history.
 * Every write goes to the draft; nothing reaches a node until provisioned.
 */
import type {
  IpList,
  LabelGroup,
  PolicyVersion,
  RuleSet,
  SecRuleWrite,
  Service,
  VirtualService,
} from '@bulkhead/pce/api';
import type { LabelRef } from '../../../common/rule-draft.js';
import type { Session } from './session.svelte.js';

export interface Label extends LabelRef {
  created_at?: string;
}
export type PendingKind = 'rule_sets' | 'label_groups' | 'services' | 'ip_lists' | 'virtual_services';
export type Pending = Record<PendingKind, { href: string; name: string; update_type: string }[]>;

export const PENDING_KINDS: PendingKind[] = ['rule_sets', 'label_groups', 'services', 'ip_lists', 'virtual_services'];
export const KIND_NAMES: Record<PendingKind, string> = {
  rule_sets: 'Rulesets',
  label_groups: 'Label groups',
  services: 'Services',
  ip_lists: 'IP lists',
  virtual_services: 'Virtual services',
};

export class PolicyState {
  labels = $state.raw<Label[]>([]);
  labelGroups = $state.raw<LabelGroup[]>([]);
  services = $state.raw<Service[]>([]);
  ipLists = $state.raw<IpList[]>([]);
  ruleSets = $state.raw<RuleSet[]>([]);
  virtualServices = $state.raw<VirtualService[]>([]);
  pending = $state.raw<Pending | undefined>(undefined);
  versions = $state.raw<PolicyVersion[]>([]);
  loaded = $state(false);

  readonly pendingCount = $derived(
    this.pending ? PENDING_KINDS.reduce((n, k) => n + (this.pending![k]?.length ?? 0), 0) : 0,
  );
  readonly labelKeys = $derived([...new Set(this.labels.map((l) => l.key))].sort());

  constructor(private readonly session: Session) {}

  async load(): Promise<void> {
    const pce = this.session.pce;
    const [labels, groups, services, ipLists, ruleSets, pending, versions, virtualServices] = await Promise.all([
      pce.get<Label[]>('/orgs/1/labels', { max_results: 10000 }),
      pce.get<LabelGroup[]>('/orgs/1/sec_policy/draft/label_groups', { max_results: 10000 }),
      pce.get<Service[]>('/orgs/1/sec_policy/draft/services', { max_results: 10000 }),
      pce.get<IpList[]>('/orgs/1/sec_policy/draft/ip_lists', { max_results: 10000 }),
      pce.get<RuleSet[]>('/orgs/1/sec_policy/draft/rule_sets', { max_results: 10000 }),
      pce.get<Pending>('/orgs/1/sec_policy/pending'),
      pce.get<PolicyVersion[]>('/orgs/1/sec_policy', { max_results: 50 }),
      pce.get<VirtualService[]>('/orgs/1/sec_policy/draft/virtual_services', { max_results: 10000 }),
    ]);
    this.virtualServices = virtualServices;
    this.labels = [...labels].sort((a, b) => a.key.localeCompare(b.key) || a.value.localeCompare(b.value));
    this.labelGroups = groups;
    this.services = services;
    this.ipLists = ipLists;
    this.ruleSets = ruleSets;
    this.pending = pending;
    this.versions = versions;
    this.loaded = true;
  }

  async refreshPending(): Promise<void> {
    this.pending = await this.session.pce.get<Pending>('/orgs/1/sec_policy/pending');
  }

  labelName(href: string): string {
    const l = this.labels.find((x) => x.href === href);
    if (l) return `${l.key}: ${l.value}`;
    const g = this.labelGroups.find((x) => x.href === href);
    return g ? `${g.name} (group)` : href;
  }

  /** A rule as users read it: its ruleset's name and its place there ("shop prod, rule 2"). */
  ruleName(href: string): string | undefined {
    const draft = href.replace(/\/sec_policy\/(active|\d+)\//, '/sec_policy/draft/');
    for (const rs of this.ruleSets) {
      const i = rs.rules.findIndex((r) => r.href === draft);
      if (i >= 0) return `${rs.name}, rule ${i + 1}`;
      const d = rs.deny_rules.findIndex((r) => r.href === draft);
      if (d >= 0) return `${rs.name}, deny rule ${d + 1}`;
    }
    return undefined;
  }

  /** Create an object in the draft (or a label); reloads. */
  async create<T>(path: string, body: unknown): Promise<T> {
    const made = await this.session.pce.post<T>(path, body);
    await this.load();
    return made;
  }

  async update(href: string, body: unknown): Promise<void> {
    await this.session.pce.put(href, body);
    await this.load();
  }

  async remove(href: string): Promise<void> {
    await this.session.pce.del(href);
    await this.load();
  }

  async createRuleSet(name: string, scopes: RuleSet['scopes']): Promise<RuleSet> {
    return this.create<RuleSet>('/orgs/1/sec_policy/draft/rule_sets', { name, scopes });
  }

  async addRule(ruleSetHref: string, rule: SecRuleWrite, deny = false): Promise<{ href: string }> {
    return this.create<{ href: string }>(`${ruleSetHref}/${deny ? 'deny_rules' : 'sec_rules'}`, rule);
  }

  /** The draft and active versions of a pending object, for the diff. */
  async versionsOf(href: string): Promise<{ draft: unknown; active: unknown }> {
    const pce = this.session.pce;
    const get = (h: string) => pce.getHref<unknown>(h).catch(() => null);
    return { draft: await get(href), active: await get(href.replace('/sec_policy/draft/', '/sec_policy/active/')) };
  }

  async provision(note: string): Promise<PolicyVersion> {
    const body: Record<string, unknown> = { update_description: note };
    const v = await this.session.pce.post<PolicyVersion>('/orgs/1/sec_policy', body);
    await this.load();
    return v;
  }

  async revert(): Promise<void> {
    await this.session.pce.put('/orgs/1/sec_policy/delete', {});
    await this.load();
  }
}
