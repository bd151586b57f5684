// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What every route shares: the org check, collections (`max_results`,
 * `X-Total-Count`), policy versions in paths, and the `Lookup` that domain
 * validation uses to check references against the store.
 */
import type { FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import type { Label, LabelGroup, LabelSummary } from '../../api/policy-objects.js';
import { idOf, type Lookup } from '../../domain/refs.js';
import type { Store } from '../../store/store.js';

export const ORG_PATH = '/api/v2/orgs/:org';

/** Collections return at most this many objects unless `max_results` says otherwise (Illumio). */
export const DEFAULT_MAX_RESULTS = 500;

export const OrgParams = Type.Object({ org: Type.String() });
export const OrgIdParams = Type.Object({ org: Type.String(), id: Type.String() });
export const MaxResults = Type.Optional(Type.Integer({ minimum: 0 }));

/** Only org 1 exists. */
export function checkOrg(org: string): void {
  if (org !== '1') throw new BulkheadError('BH_ERR_API_NOT_FOUND', `org ${org} does not exist; this PCE has org 1`);
}

/**
 * Send a collection: at most `max_results` items (default 500; 0 sends none,
 * as illumio-py's `get_all` expects), the filtered total in `X-Total-Count`.
 */
export function sendCollection<T>(reply: FastifyReply, items: T[], maxResults: number | undefined): T[] {
  reply.header('X-Total-Count', String(items.length));
  return items.slice(0, maxResults ?? DEFAULT_MAX_RESULTS);
}

/** `draft`, `active` or a version number, from a path segment. */
export type VersionRef = 'draft' | 'active' | number;

export function parseVersionRef(pv: string): VersionRef {
  if (pv === 'draft' || pv === 'active') return pv;
  if (/^[1-9]\d{0,9}$/.test(pv)) return Number(pv);
  throw new BulkheadError('BH_ERR_API_NOT_FOUND', `policy version "${pv}" is not draft, active or a version number`);
}

/** Writes go to the draft only (POLICY.md "Provisioning"). */
export function requireDraft(pv: string): void {
  if (pv !== 'draft')
    throw new BulkheadError(
      'BH_ERR_API_READ_ONLY_VERSION',
      `policy version ${pv} is read-only; edit /sec_policy/draft/... and provision`,
    );
}

/** Row version to read: 0 for draft, the newest active (or -1, the built-ins only, before any), or N. */
export async function rowVersion(store: Store, ref: VersionRef): Promise<number> {
  if (ref === 'draft') return 0;
  if (ref === 'active') {
    const v = await store.activeVersion();
    return v > 0 ? v : -1;
  }
  if ((await store.getVersion(ref)) === undefined) throw notFound(`policy version ${ref}`);
  return ref;
}

export async function labelSummary(store: Store, href: string): Promise<LabelSummary> {
  const l = await store.getDoc<Label>('labels', idOf(href));
  if (!l) throw invalid('labels', `label ${href} does not exist`);
  return { href: l.href, key: l.key, value: l.value };
}

/**
 * Resolve a list of label references: each must exist, and there is at most
 * one label per key. `field` is the list's path (`labels`, `[2].labels`).
 *
 * @throws BulkheadError BH_ERR_API_VALIDATION naming the offending item.
 */
export async function resolveLabelRefs(store: Store, refs: { href: string }[], field: string): Promise<LabelSummary[]> {
  const byKey = new Map<string, string>();
  const out: LabelSummary[] = [];
  for (const [i, ref] of refs.entries()) {
    const l = await labelSummary(store, ref.href).catch(() => {
      throw invalid(`${field}[${i}].href`, `label ${ref.href} does not exist`);
    });
    if (byKey.has(l.key))
      throw invalid(`${field}[${i}]`, `at most one label per key; ${l.key} is already ${byKey.get(l.key)}`);
    byKey.set(l.key, l.value);
    out.push(l);
  }
  return out;
}

/** References are checked against the draft (what is being edited) and the inventory. */
export function lookupFor(store: Store): Lookup {
  return {
    labelKey: async (href) => (await store.getDoc<Label>('labels', idOf(href)))?.key,
    labelGroupKey: async (href) => (await store.getPolicy<LabelGroup>('label_groups', idOf(href), 0))?.key,
    exists: async (kind, href) => {
      if (kind === 'workload') {
        const table = href.includes('/container_workloads/') ? 'container_workloads' : 'workloads';
        return (await store.getDoc(table, idOf(href))) !== undefined;
      }
      return (await store.getPolicy(`${kind}s`, idOf(href), 0)) !== undefined;
    },
  };
}

/** Refuse to delete what is still referenced, naming the references. */
export async function refuseIfReferenced(store: Store, href: string, what: string): Promise<void> {
  const refs = await store.findReferences(href, href);
  if (refs.length === 0) return;
  const list = refs
    .slice(0, 10)
    .map((r) => `${r.href} (${r.name}${r.where === 'inventory' ? '' : `, ${r.where}`})`)
    .join(', ');
  throw new BulkheadError(
    'BH_ERR_API_IN_USE',
    `${what} ${href} is in use by ${refs.length} object(s): ${list}${refs.length > 10 ? ', ...' : ''}; remove those references first`,
  );
}

/** Case-insensitive substring match, as Illumio's `name` filters. */
export function matchesText(value: string | null | undefined, filter: string | undefined): boolean {
  if (filter === undefined) return true;
  return (value ?? '').toLowerCase().includes(filter.toLowerCase());
}
