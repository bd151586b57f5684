// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Hrefs: parsing, the canonical (draft) form of references to provisionable
 * objects, and the lookup interface validation uses to check references.
 *
 * Owns: the href grammar (`/orgs/1/<kind>/<id>`,
 * `/orgs/1/sec_policy/<draft|active|N>/<kind>/<id>`). Pure: the lookups are
 * passed in, never imported.
 */
import { toDraftHref } from '../api/policy-objects.js';
import { invalid } from '../api/errors.js';

export const ORG = 1;
export const ORG_PREFIX = `/orgs/${ORG}`;

/** Kinds of object an href can name, with the pattern of their hrefs (draft form for policy). */
export const HREF_PATTERNS = {
  label: /^\/orgs\/1\/labels\/\d+$/,
  label_group: /^\/orgs\/1\/sec_policy\/draft\/label_groups\/\d+$/,
  service: /^\/orgs\/1\/sec_policy\/draft\/services\/\d+$/,
  ip_list: /^\/orgs\/1\/sec_policy\/draft\/ip_lists\/\d+$/,
  virtual_service: /^\/orgs\/1\/sec_policy\/draft\/virtual_services\/\d+$/,
  workload: /^\/orgs\/1\/(workloads|container_workloads)\/[0-9a-f-]+$/,
} as const;
export type RefKind = keyof typeof HREF_PATTERNS;

/** Policy object hrefs in any version (`active`, `7`) become their draft form (defined in the wire contract). */
export { toDraftHref };

/** Rewrite every draft href inside a stored JSON text to the given version's form. */
export function inVersion<T>(body: T, version: 'draft' | 'active' | number): T {
  if (version === 'draft') return body;
  const text = JSON.stringify(body).replaceAll('/sec_policy/draft/', `/sec_policy/${version}/`);
  return JSON.parse(text) as T;
}

/** The last path segment (the id) of an href. */
export function idOf(href: string): string {
  return href.slice(href.lastIndexOf('/') + 1);
}

/** What validation may ask about other objects. Implemented by the store's caller. */
export interface Lookup {
  /** The key of a label, or undefined when there is no such label. */
  labelKey(href: string): Promise<string | undefined>;
  /** The key of a label group in the draft, or undefined. */
  labelGroupKey(href: string): Promise<string | undefined>;
  /** Whether a service, IP list, virtual service (draft) or workload exists. */
  exists(kind: 'service' | 'ip_list' | 'virtual_service' | 'workload', href: string): Promise<boolean>;
}

/**
 * Check that `href` has the form of `kind` and that the object exists;
 * returns the canonical (draft) href.
 *
 * @throws BulkheadError BH_ERR_API_VALIDATION naming `field`.
 */
export async function checkRef(field: string, kind: RefKind, href: string, lookup: Lookup): Promise<string> {
  const h = toDraftHref(href);
  if (!HREF_PATTERNS[kind].test(h)) throw invalid(field, `"${href}" is not the href of a ${kind.replace('_', ' ')}`);
  let found: boolean;
  if (kind === 'label') found = (await lookup.labelKey(h)) !== undefined;
  else if (kind === 'label_group') found = (await lookup.labelGroupKey(h)) !== undefined;
  else found = await lookup.exists(kind, h);
  if (!found) throw invalid(field, `${kind.replace('_', ' ')} ${href} does not exist`);
  return h;
}
