// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Provisioning as a pure computation: the pending changes between the draft
 * and the active version, and the plan for a provision of everything or of a
 * `change_subset` with the objects it depends on.
 *
 * Owns: the rule that a new active version never names an object it does not
 * contain (POLICY.md "Provisioning": a subset brings its dependencies; a
 * deletion is refused while the new active version would still use it).
 * Must not: do I/O.
 */
import { BulkheadError, invalid } from '../api/errors.js';
import { PROVISIONABLE_KINDS, type ProvisionableKind } from '../api/policy-objects.js';
import { idOf, toDraftHref } from './refs.js';

export interface PolicyObjectLike {
  href: string;
  name: string;
}

/** One kind's objects by id. */
export type VersionContent = Record<ProvisionableKind, Map<string, PolicyObjectLike>>;

export interface Change {
  kind: ProvisionableKind;
  id: string;
  href: string;
  name: string;
  update_type: 'create' | 'update' | 'delete';
}

const REF_PATTERN = /\/orgs\/1\/sec_policy\/draft\/(label_groups|services|ip_lists|virtual_services|rule_sets)\/(\d+)/g;

/** Provisionable objects an object names (its own href excluded). */
export function dependenciesOf(obj: PolicyObjectLike): { kind: ProvisionableKind; id: string }[] {
  const text = JSON.stringify({ ...obj, href: undefined });
  const out = new Map<string, { kind: ProvisionableKind; id: string }>();
  for (const m of text.matchAll(REF_PATTERN)) {
    const kind = m[1] as ProvisionableKind;
    const id = m[2]!;
    out.set(`${kind}/${id}`, { kind, id });
  }
  return [...out.values()];
}

/** Every difference between the draft and the active version, in a stable order. */
export function pendingChanges(draft: VersionContent, active: VersionContent): Change[] {
  const changes: Change[] = [];
  for (const kind of PROVISIONABLE_KINDS) {
    const d = draft[kind];
    const a = active[kind];
    for (const [id, obj] of d) {
      const was = a.get(id);
      if (!was) changes.push({ kind, id, href: obj.href, name: obj.name, update_type: 'create' });
      else if (JSON.stringify(was) !== JSON.stringify(obj))
        changes.push({ kind, id, href: obj.href, name: obj.name, update_type: 'update' });
    }
    for (const [id, obj] of a)
      if (!d.has(id)) changes.push({ kind, id, href: obj.href, name: obj.name, update_type: 'delete' });
  }
  return changes;
}

export type ChangeSubset = Partial<Record<string, { href: string }[]>>;

/**
 * The changes to provision: all pending ones, or those of `subset` plus the
 * pending objects they depend on; and the resulting active content.
 *
 * @throws BulkheadError BH_ERR_API_NOTHING_TO_PROVISION when nothing is pending.
 * @throws BulkheadError BH_ERR_API_VALIDATION when a subset names an object
 *   with no pending change, or the result would name an object it lacks.
 */
export function planProvision(
  draft: VersionContent,
  active: VersionContent,
  subset?: ChangeSubset,
): { changes: Change[]; next: VersionContent } {
  const pending = pendingChanges(draft, active);
  if (pending.length === 0)
    throw new BulkheadError('BH_ERR_API_NOTHING_TO_PROVISION', 'there are no pending changes to provision');
  const byKey = new Map(pending.map((c) => [`${c.kind}/${c.id}`, c]));
  let chosen: Change[];
  if (subset === undefined) chosen = pending;
  else {
    const picked = new Map<string, Change>();
    const queue: string[] = [];
    for (const kind of Object.keys(subset)) {
      const refs = subset[kind] ?? [];
      if (!(PROVISIONABLE_KINDS as readonly string[]).includes(kind)) {
        if (refs.length > 0) throw invalid(`change_subset.${kind}`, `${kind} are not provisionable objects here`);
        continue;
      }
      refs.forEach((ref, i) => {
        const key = `${kind}/${idOf(toDraftHref(ref.href))}`;
        if (!byKey.has(key)) throw invalid(`change_subset.${kind}[${i}]`, `${ref.href} has no pending change`);
        queue.push(key);
      });
    }
    while (queue.length > 0) {
      const key = queue.pop()!;
      if (picked.has(key)) continue;
      const change = byKey.get(key)!;
      picked.set(key, change);
      const obj = draft[change.kind].get(change.id);
      if (obj)
        for (const dep of dependenciesOf(obj)) {
          const depKey = `${dep.kind}/${dep.id}`;
          if (byKey.has(depKey) && byKey.get(depKey)!.update_type !== 'delete') queue.push(depKey);
        }
    }
    chosen = pending.filter((c) => picked.has(`${c.kind}/${c.id}`));
  }
  if (chosen.length === 0) throw new BulkheadError('BH_ERR_API_NOTHING_TO_PROVISION', 'change_subset names no changes');

  const next = {} as VersionContent;
  for (const kind of PROVISIONABLE_KINDS) next[kind] = new Map(active[kind]);
  for (const c of chosen) {
    const obj = draft[c.kind].get(c.id);
    if (obj) next[c.kind].set(c.id, obj);
    else next[c.kind].delete(c.id);
  }
  // Integrity: the new version names only objects it contains.
  for (const kind of PROVISIONABLE_KINDS)
    for (const obj of next[kind].values())
      for (const dep of dependenciesOf(obj))
        if (!next[dep.kind].has(dep.id))
          throw invalid(
            'change_subset',
            `${obj.href} (${obj.name}) would name /orgs/1/sec_policy/draft/${dep.kind}/${dep.id}, which the new version would not contain; provision them together`,
          );
  return { changes: chosen, next };
}
