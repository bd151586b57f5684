// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Resolved selectors: what one side of one rule in one scope selects, in a
 * canonical form that names its address set, with the membership test and
 * the index that finds, for a workload, the few selectors worth testing.
 *
 * Owns: the canonical key of a selector (so equal selectors share one set
 * name, `lg_*`), membership (`Selector.matches`), and `SelectorRegistry`
 * (interning, naming, the label/href/host index).
 * Pure. Must not import: ../store, ../http, fastify, node:*.
 * Semantics: shared/POLICY.md "Selecting workloads: actors".
 */
import { formatInterval, type IpInterval } from '../api/ip.js';
import { setNameOf } from './hash.js';

/** An OR of label hrefs: a workload matches when it carries any of them. */
export type Clause = readonly string[];

/**
 * What a resolved selector selects. Workload membership:
 *
 *   host(w) = node                                   (when `node` is set), and
 *   ( w ∈ backends                                   — virtual services' workloads: never narrowed
 *   or ( (labels match w or w ∈ workloads)            — label terms (AND of clauses) or workload actors
 *        and no exceptLabels clause matches w and w ∉ exceptWorkloads   — each exclusion alone
 *        and every scope clause matches w and no scopeExcept clause does ) ) — the ruleset scope
 *
 * `labels`: null = no label term; `[]` = every workload (`ams`, or a list of
 * exclusions alone). `addresses` (IP lists, virtual-service addresses) are
 * never narrowed.
 */
export interface SelectorSpec {
  labels: Clause[] | null;
  workloads: string[];
  exceptLabels: Clause[];
  exceptWorkloads: string[];
  scope: Clause[];
  scopeExcept: Clause[];
  backends: string[];
  /** Merged intervals (`mergeIntervals`). */
  addresses: IpInterval[];
  /** Only workloads hosted on this node (`container_host`), else null. */
  node: string | null;
}

/** A workload as selectors test it. */
export interface MatchTarget {
  href: string;
  labels: ReadonlySet<string>;
  /** The node hosting it (a node hosts itself); null for unmanaged workloads. */
  host: string | null;
}

/** A spec selecting nothing, to spread over. */
export const EMPTY_SPEC: SelectorSpec = {
  labels: null,
  workloads: [],
  exceptLabels: [],
  exceptWorkloads: [],
  scope: [],
  scopeExcept: [],
  backends: [],
  addresses: [],
  node: null,
};

const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function normalizeClauses(cs: readonly Clause[]): Clause[] {
  const byKey = new Map<string, Clause>();
  for (const c of cs) {
    const n = uniqueSorted(c);
    byKey.set(JSON.stringify(n), n);
  }
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

/** The same spec with every list sorted and deduplicated (the canonical form). */
export function normalizeSpec(s: SelectorSpec): SelectorSpec {
  return {
    labels: s.labels === null ? null : normalizeClauses(s.labels),
    workloads: uniqueSorted(s.workloads),
    exceptLabels: normalizeClauses(s.exceptLabels),
    exceptWorkloads: uniqueSorted(s.exceptWorkloads),
    scope: normalizeClauses(s.scope),
    scopeExcept: normalizeClauses(s.scopeExcept),
    backends: uniqueSorted(s.backends),
    addresses: s.addresses,
    node: s.node,
  };
}

/**
 * Canonical key of a normalized spec: equal specs (same terms in any order)
 * give equal keys, so the same selector always has the same set name.
 */
export function canonicalKey(s: SelectorSpec): string {
  return JSON.stringify([
    s.labels,
    s.workloads,
    s.exceptLabels,
    s.exceptWorkloads,
    s.scope,
    s.scopeExcept,
    s.backends,
    s.addresses.map(formatInterval),
    s.node,
  ]);
}

function carriesAny(c: Clause, labels: ReadonlySet<string>): boolean {
  for (const l of c) if (labels.has(l)) return true;
  return false;
}

/**
 * One interned selector: its set name and its current members.
 * Lifecycle of `members`: the compiler adds a workload when it appears or
 * starts matching, and removes it when it goes or stops matching.
 */
export class Selector {
  readonly members = new Set<string>();
  /**
   * host → how many enforcing workloads hosted there have entries naming
   * this set (so a change to the set reports exactly those nodes).
   * Lifecycle: the compiler adds when it places a workload's policy and
   * subtracts when it replaces or removes it; a host at 0 is deleted.
   */
  readonly hostRefs = new Map<string, number>();
  /** Clause the registry indexes this selector under (null: by host, href or everyone). */
  indexClause: Clause | null = null;
  /** Visit stamp for de-duplicating candidates (registry-private). */
  stamp = 0;
  readonly #workloads: ReadonlySet<string>;
  readonly #backends: ReadonlySet<string>;
  readonly #except: ReadonlySet<string>;

  constructor(
    readonly name: string,
    readonly key: string,
    readonly spec: SelectorSpec,
  ) {
    this.#workloads = new Set(spec.workloads);
    this.#backends = new Set(spec.backends);
    this.#except = new Set(spec.exceptWorkloads);
  }

  /** Whether the workload is selected (see `SelectorSpec`). */
  matches(t: MatchTarget): boolean {
    const s = this.spec;
    if (s.node !== null && t.host !== s.node) return false;
    if (this.#backends.has(t.href)) return true;
    const byLabels = s.labels !== null && s.labels.every((c) => carriesAny(c, t.labels));
    if (!byLabels && !this.#workloads.has(t.href)) return false;
    if (this.#except.has(t.href)) return false;
    if (s.exceptLabels.some((c) => carriesAny(c, t.labels))) return false;
    if (!s.scope.every((c) => carriesAny(c, t.labels))) return false;
    return !s.scopeExcept.some((c) => carriesAny(c, t.labels));
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/**
 * Interns selectors by canonical key and indexes them so that a workload is
 * tested only against selectors that could select it: by a required label
 * clause (the one with the fewest workloads when interned), by href (workload
 * actors, backends), by host (`container_host` selectors), or, for selectors
 * needing no label at all, against everyone.
 */
export class SelectorRegistry {
  readonly #byKey = new Map<string, Selector>();
  readonly #byName = new Map<string, Selector>();
  readonly #byLabel = new Map<string, Selector[]>();
  readonly #byHref = new Map<string, Selector[]>();
  readonly #byHost = new Map<string, Selector[]>();
  readonly #everyone: Selector[] = [];
  #stamp = 0;

  /** @param workloadsWithLabel how many workloads carry a label now (index heuristic only). */
  constructor(private readonly workloadsWithLabel: (label: string) => number) {}

  get size(): number {
    return this.#byKey.size;
  }

  byName(name: string): Selector | undefined {
    return this.#byName.get(name);
  }

  /**
   * The selector for `spec`, creating and indexing it the first time.
   * `isNew` tells the caller to compute its members.
   *
   * Naming: `lg_` + hash of the canonical key. On a (48-bit) collision with a
   * different key the later one hashes `key#1`, `key#2`..., so only then does
   * a name depend on the order selectors were first seen.
   */
  intern(spec: SelectorSpec): { selector: Selector; isNew: boolean } {
    const normal = normalizeSpec(spec);
    const key = canonicalKey(normal);
    const hit = this.#byKey.get(key);
    if (hit) return { selector: hit, isNew: false };
    let name = setNameOf(key);
    for (let n = 1; this.#byName.has(name); n += 1) name = setNameOf(`${key}#${n}`);
    const sel = new Selector(name, key, normal);
    this.#byKey.set(key, sel);
    this.#byName.set(name, sel);
    this.#index(sel);
    return { selector: sel, isNew: true };
  }

  #index(sel: Selector): void {
    const s = sel.spec;
    if (s.node !== null) {
      push(this.#byHost, s.node, sel);
      return;
    }
    for (const h of [...s.workloads, ...s.backends]) push(this.#byHref, h, sel);
    if (s.labels === null) return;
    const clauses = [...s.labels, ...s.scope];
    if (clauses.length === 0) {
      this.#everyone.push(sel);
      return;
    }
    const weight = (c: Clause) => c.reduce((n, l) => n + this.workloadsWithLabel(l), 0);
    let best = clauses[0]!;
    let bestWeight = weight(best);
    for (const c of clauses.slice(1)) {
      const w = weight(c);
      if (w < bestWeight) [best, bestWeight] = [c, w];
    }
    sel.indexClause = best;
    for (const l of best) push(this.#byLabel, l, sel);
  }

  /** Every selector that selects the workload. */
  matching(t: MatchTarget): Selector[] {
    const stamp = ++this.#stamp;
    const out: Selector[] = [];
    const consider = (list: Selector[] | undefined) => {
      if (!list) return;
      for (const sel of list) {
        if (sel.stamp === stamp) continue;
        sel.stamp = stamp;
        if (sel.matches(t)) out.push(sel);
      }
    };
    consider(this.#everyone);
    consider(this.#byHref.get(t.href));
    if (t.host !== null) consider(this.#byHost.get(t.host));
    for (const l of t.labels) consider(this.#byLabel.get(l));
    return out;
  }
}
