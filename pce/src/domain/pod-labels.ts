// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * A pod's labels (POLICY.md "Identity"), highest precedence first:
 * 1. the label map (Kubernetes label → Bulkhead label key; the label is
 *    created if missing — the caller creates it, this module names it);
 * 2. the profile's fixed assignment for that key;
 * 3. the pod's `bulkhead.io/<key>` annotation, only if that label exists and
 *    the profile's restriction for the key (if any) allows it.
 * Pure: the caller passes the labels that exist.
 */
import type { LabelSummary } from '../api/policy-objects.js';

/** Annotation prefix that names a label: `bulkhead.io/role: web`. */
export const LABEL_ANNOTATION_PREFIX = 'bulkhead.io/';

export interface ProfileLabelRule {
  key: string;
  assignment?: LabelSummary;
  restriction?: LabelSummary[];
}

/** Kubernetes label key → Bulkhead label key. */
export type LabelMap = Record<string, string>;

export interface PodLabelResult {
  labels: LabelSummary[];
  /** Labels the label map needs that do not exist yet: `{key, value}` to create. */
  missing: { key: string; value: string }[];
  /** Annotations that were not applied, each with why (for the workload's status). */
  ignored: string[];
}

/**
 * @param existing labels by `key=value`
 * @param keys the defined label keys
 */
export function podLabels(
  profileLabels: ProfileLabelRule[],
  pod: { labels: Record<string, string>; annotations: Record<string, string> },
  existing: ReadonlyMap<string, LabelSummary>,
  keys: ReadonlySet<string>,
  labelMap: LabelMap = {},
): PodLabelResult {
  const byKey = new Map<string, LabelSummary>();
  const missing: PodLabelResult['missing'] = [];
  const ignored: string[] = [];
  // 1. Label map.
  for (const [k8sKey, key] of Object.entries(labelMap).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const value = pod.labels[k8sKey];
    if (value === undefined || byKey.has(key) || !keys.has(key)) continue;
    const label = existing.get(`${key}=${value}`);
    if (label) byKey.set(key, label);
    else missing.push({ key, value });
  }
  // 2. Profile assignments.
  for (const rule of profileLabels)
    if (rule.assignment && !byKey.has(rule.key) && !missing.some((m) => m.key === rule.key))
      byKey.set(rule.key, rule.assignment);
  // 3. Annotations.
  for (const [name, value] of Object.entries(pod.annotations).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!name.startsWith(LABEL_ANNOTATION_PREFIX)) continue;
    const key = name.slice(LABEL_ANNOTATION_PREFIX.length);
    if (byKey.has(key) || missing.some((m) => m.key === key)) {
      ignored.push(`${name}: the label map or the profile sets ${key}`);
      continue;
    }
    const label = existing.get(`${key}=${value}`);
    if (!label) {
      ignored.push(`${name}: no label ${key}=${value} exists`);
      continue;
    }
    const restriction = profileLabels.find((r) => r.key === key)?.restriction;
    if (restriction && !restriction.some((r) => r.href === label.href)) {
      ignored.push(`${name}: the profile does not allow ${key}=${value}`);
      continue;
    }
    byKey.set(key, label);
  }
  const labels = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { labels, missing, ignored };
}
