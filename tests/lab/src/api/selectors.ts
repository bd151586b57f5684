// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Kubernetes label and field selectors, as the API server parses them from
 * `labelSelector=` / `fieldSelector=` and as objects carry them
 * (`matchLabels` + `matchExpressions`). Pure.
 *
 * Label syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
 * `!k`, joined by commas (AND). Field syntax: `path=v`, `path==v`,
 * `path!=v` on dotted paths (`metadata.name`, `spec.nodeName`, ...).
 */

export type Labels = Record<string, string>;
export type Predicate<T> = (x: T) => boolean;

export class SelectorError extends Error {}

/** Split on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

const KEY = /^([a-z0-9A-Z.-]+\/)?[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/;

function checkKey(k: string, term: string): string {
  if (!KEY.test(k)) throw new SelectorError(`label selector term "${term}": "${k}" is not a valid label key`);
  return k;
}

/** Parse a label selector string; the empty string matches everything. */
export function parseLabelSelector(s: string | undefined): Predicate<Labels | undefined> {
  if (!s || !s.trim()) return () => true;
  const preds: Predicate<Labels>[] = splitTerms(s).map((term) => {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+?)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const key = checkKey(m[1]!, term);
      const values = new Set(
        m[3]!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      );
      return m[2] === 'in'
        ? (l: Labels) => key in l && values.has(l[key]!)
        : (l: Labels) => !(key in l) || !values.has(l[key]!);
    }
    if ((m = term.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      const key = checkKey(m[1]!, term);
      const v = m[3]!;
      return m[2] === '!=' ? (l: Labels) => l[key] !== v : (l: Labels) => l[key] === v;
    }
    if ((m = term.match(/^!\s*(\S+)$/))) {
      const key = checkKey(m[1]!, term);
      return (l: Labels) => !(key in l);
    }
    const key = checkKey(term, term);
    return (l: Labels) => key in l;
  });
  return (labels) => preds.every((p) => p(labels ?? {}));
}

/** The object form (`spec.selector` of a Deployment, `podSelector` of a NetworkPolicy). */
export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** An empty selector matches everything (as in a NetworkPolicy); pass `undefined` to match nothing. */
export function matchLabelSelector(sel: LabelSelector | undefined, labels: Labels | undefined): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in l;
    const vals = e.values ?? [];
    if (e.operator === 'In' && !(has && vals.includes(l[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(l[e.key]!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/** Parse a field selector; `supported` lists the paths allowed (others are a 400 as in Kubernetes). */
export function parseFieldSelector(s: string | undefined, supported: string[]): Predicate<unknown> {
  if (!s || !s.trim()) return () => true;
  const preds = splitTerms(s).map((term) => {
    const m = term.match(/^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new SelectorError(`field selector term "${term}": expected path=value or path!=value`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    if (!supported.includes(path))
      throw new SelectorError(`field label not supported: ${path} (supported: ${supported.join(', ')})`);
    return op === '!=' ? (o: unknown) => fieldValue(o, path) !== value : (o: unknown) => fieldValue(o, path) === value;
  });
  return (o) => preds.every((p) => p(o));
}
