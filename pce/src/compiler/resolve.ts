// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Actor lists and scopes → selector specs: label terms grouped by key
 * (same key OR, different keys AND), label groups flattened (nested groups,
 * cycles guarded), exclusions, `resolve_labels_as`, workload, IP-list and
 * virtual-service alternatives.
 *
 * Owns: the reading of POLICY.md "Selecting workloads: actors" and the scope
 * half of "Rulesets and scopes"; the decisions marked (ours) below.
 * Pure. Must not import: ../store, ../http, fastify, node:*.
 */
import { mergeIntervals, parseAddress, parseRange, subtractIntervals, intervalOf, type IpInterval } from '../api/ip.js';
import type {
  Actor,
  IpList,
  LabelGroup,
  LabelSummary,
  PolicyContent,
  ScopeTerm,
  Service,
  VirtualService,
} from '../api/policy-objects.js';
import { EMPTY_SPEC, type Clause, type SelectorSpec } from './selectors.js';

/** The policy version's objects, indexed for resolution. */
export interface PolicyContext {
  labelKey: ReadonlyMap<string, string>;
  groups: ReadonlyMap<string, LabelGroup>;
  ipLists: ReadonlyMap<string, IpList>;
  virtualServices: ReadonlyMap<string, VirtualService>;
  services: ReadonlyMap<string, Service>;
  /** Memo of flattened label groups. */
  flattened: Map<string, string[]>;
}

export function buildContext(policy: PolicyContent, labels: readonly LabelSummary[]): PolicyContext {
  const byHref = <T extends { href: string }>(xs: readonly T[]) => new Map(xs.map((x) => [x.href, x]));
  return {
    labelKey: new Map(labels.map((l) => [l.href, l.key])),
    groups: byHref(policy.label_groups),
    ipLists: byHref(policy.ip_lists),
    virtualServices: byHref(policy.virtual_services),
    services: byHref(policy.services),
    flattened: new Map(),
  };
}

/**
 * The label hrefs a label group stands for: the labels of every group
 * reachable from it through `sub_groups` (nested groups flattened). Each
 * group is visited once, so a cycle ends the walk; a missing group stands
 * for no label.
 */
export function flattenGroup(ctx: PolicyContext, href: string): string[] {
  const memo = ctx.flattened.get(href);
  if (memo) return memo;
  const seen = new Set<string>();
  const labels = new Set<string>();
  const stack = [href];
  while (stack.length > 0) {
    const h = stack.pop()!;
    if (seen.has(h)) continue;
    seen.add(h);
    const g = ctx.groups.get(h);
    if (!g) continue;
    for (const l of g.labels) labels.add(l.href);
    for (const sub of g.sub_groups) stack.push(sub.href);
  }
  const list = [...labels].sort();
  ctx.flattened.set(href, list);
  return list;
}

type LabelTerm = Pick<Actor, 'label' | 'label_group'>;

/** The clause one label term stands for alone, with the key it counts under. */
function termClause(ctx: PolicyContext, t: LabelTerm): { key: string; clause: string[] } | null {
  if (t.label) {
    // An unknown label still selects what carries it, under a key of its own.
    return { key: ctx.labelKey.get(t.label.href) ?? `?${t.label.href}`, clause: [t.label.href] };
  }
  if (t.label_group) {
    const g = ctx.groups.get(t.label_group.href);
    return { key: g?.key ?? `?${t.label_group.href}`, clause: flattenGroup(ctx, t.label_group.href) };
  }
  return null;
}

/** Label terms combined: same key OR'd into one clause, different keys AND'ed. Null: no term. */
export function combineTerms(ctx: PolicyContext, terms: readonly LabelTerm[]): Clause[] | null {
  const byKey = new Map<string, string[]>();
  for (const t of terms) {
    const c = termClause(ctx, t);
    if (c) byKey.set(c.key, [...(byKey.get(c.key) ?? []), ...c.clause]);
  }
  return byKey.size === 0 ? null : [...byKey.values()];
}

/** Each exclusion term alone: a workload carrying any of a clause's labels is removed. */
function exclusionClauses(ctx: PolicyContext, terms: readonly LabelTerm[]): Clause[] {
  return terms.flatMap((t) => {
    const c = termClause(ctx, t);
    return c ? [c.clause] : [];
  });
}

const satisfies = (clauses: readonly Clause[], labels: ReadonlySet<string>) =>
  clauses.every((c) => c.some((l) => labels.has(l)));

/** What one rule side (an actor list) selects, before any scope. */
export interface ResolvedSide {
  /** Label part for workloads (null when none, or when labels resolve as virtual services only). */
  labels: Clause[] | null;
  workloads: string[];
  exceptLabels: Clause[];
  exceptWorkloads: string[];
  virtualServices: VirtualService[];
  /** IP-list addresses, exclusion ranges and excluded IP lists removed; merged. */
  addresses: IpInterval[];
  /** `{"actors":"container_host"}` is among the actors. */
  containerHost: boolean;
  /** Whether any actor other than `container_host` was given (an empty list selects nothing). */
  hasActors: boolean;
}

/** An IP list's addresses: its ranges minus its exclusion ranges. FQDNs are not enforced yet (POLICY.md). */
export function ipListIntervals(list: IpList): IpInterval[] {
  const include: IpInterval[] = [];
  const exclude: IpInterval[] = [];
  for (const r of list.ip_ranges) {
    const i = parseRange(r.from_ip, r.to_ip);
    if (i) (r.exclusion ? exclude : include).push(i);
  }
  return subtractIntervals(include, exclude);
}

/** A virtual service's own addresses (`service_addresses[].ip`, address or CIDR); FQDNs ignored. */
export function virtualServiceIntervals(vs: VirtualService): IpInterval[] {
  const out: IpInterval[] = [];
  for (const a of vs.service_addresses) {
    const p = a.ip === undefined ? null : parseAddress(a.ip, true);
    if (p) out.push(intervalOf(p));
  }
  return out;
}

/**
 * Resolve an actor list. Decisions (ours), after POLICY.md:
 * - `ams` counts as a label term matching every label set, so it follows
 *   `resolve_labels_as` like other label terms (all workloads, all virtual
 *   services, or both);
 * - exclusions: each exclusion actor removes what it alone selects
 *   (`[env=dev ✗, role=db ✗]` removes dev ∪ db); label exclusions remove
 *   workloads, and virtual services too when the side resolves as virtual
 *   services; an excluded IP list removes its addresses from the side's IP
 *   lists; an excluded `ams` removes every workload and virtual service;
 *   virtual-service backends are never removed (the virtual service is a unit);
 * - a list of exclusions alone starts from all (workloads and/or virtual
 *   services, per `resolve_labels_as`); an empty list selects nothing.
 */
export function resolveSide(
  ctx: PolicyContext,
  actors: readonly Actor[],
  resolveAs: readonly ('workloads' | 'virtual_services')[],
): ResolvedSide {
  const include = actors.filter((a) => !a.exclusion && a.actors !== 'container_host');
  const exclude = actors.filter((a) => a.exclusion === true);
  const containerHost = actors.some((a) => !a.exclusion && a.actors === 'container_host');
  const hasActors = include.length + exclude.length > 0;
  const excludeAll = exclude.some((a) => a.actors === 'ams');
  const terms = include.filter((a) => a.label || a.label_group);
  const expr: Clause[] | null = !hasActors
    ? null
    : include.length === 0 || include.some((a) => a.actors === 'ams')
      ? []
      : combineTerms(ctx, terms);
  const exceptLabels = exclusionClauses(
    ctx,
    exclude.filter((a) => a.label || a.label_group),
  );
  const asWorkloads = resolveAs.includes('workloads');
  const asVirtualServices = resolveAs.includes('virtual_services');

  const vsHrefs = new Set(include.flatMap((a) => (a.virtual_service ? [a.virtual_service.href] : [])));
  if (asVirtualServices && expr !== null) {
    for (const v of ctx.virtualServices.values()) {
      const labels = new Set(v.labels.map((l) => l.href));
      if (satisfies(expr, labels) && !exceptLabels.some((c) => c.some((l) => labels.has(l)))) vsHrefs.add(v.href);
    }
  }
  for (const a of exclude) if (a.virtual_service) vsHrefs.delete(a.virtual_service.href);
  const virtualServices = excludeAll
    ? []
    : [...vsHrefs].sort().flatMap((h) => {
        const v = ctx.virtualServices.get(h);
        return v ? [v] : [];
      });

  const listsOf = (as: readonly Actor[]) =>
    as.flatMap((a) => {
      const l = a.ip_list ? ctx.ipLists.get(a.ip_list.href) : undefined;
      return l ? ipListIntervals(l) : [];
    });
  return {
    labels: asWorkloads && !excludeAll ? expr : null,
    workloads: excludeAll ? [] : include.flatMap((a) => (a.workload ? [a.workload.href] : [])),
    exceptLabels,
    exceptWorkloads: exclude.flatMap((a) => (a.workload ? [a.workload.href] : [])),
    virtualServices,
    addresses: subtractIntervals(listsOf(include), listsOf(exclude)),
    containerHost,
    hasActors,
  };
}

/** A scope as clauses: its label terms combined, its exclusions each alone. */
export interface ResolvedScope {
  scope: Clause[];
  scopeExcept: Clause[];
}

/**
 * The scopes of a ruleset, deduplicated. `[]`, `[[]]` or any empty inner
 * scope means everything: the result is `[null]` (one application, not
 * narrowed), since every other scope is contained in it.
 */
export function resolveScopes(ctx: PolicyContext, scopes: readonly (readonly ScopeTerm[])[]): (ResolvedScope | null)[] {
  if (scopes.length === 0 || scopes.some((s) => s.length === 0)) return [null];
  const byKey = new Map<string, ResolvedScope>();
  for (const s of scopes) {
    const r: ResolvedScope = {
      scope:
        combineTerms(
          ctx,
          s.filter((t) => !t.exclusion),
        ) ?? [],
      scopeExcept: exclusionClauses(
        ctx,
        s.filter((t) => t.exclusion),
      ),
    };
    byKey.set(JSON.stringify(r), r);
  }
  return [...byKey.values()];
}

/**
 * The selector spec of a side in a scope (null: not narrowed). Only the
 * workload part is narrowed; IP lists and virtual services never are.
 */
export function sideSpec(side: ResolvedSide, scope: ResolvedScope | null): SelectorSpec {
  const selectsWorkloads = side.labels !== null || side.workloads.length > 0;
  const vsAddresses = side.virtualServices.flatMap(virtualServiceIntervals);
  return {
    ...EMPTY_SPEC,
    ...(selectsWorkloads
      ? {
          labels: side.labels,
          workloads: side.workloads,
          exceptLabels: side.exceptLabels,
          exceptWorkloads: side.exceptWorkloads,
          scope: scope?.scope ?? [],
          scopeExcept: scope?.scopeExcept ?? [],
        }
      : {}),
    backends: side.virtualServices.flatMap((v) => v.backends.map((b) => b.href)),
    addresses: mergeIntervals([...side.addresses, ...vsAddresses]),
  };
}

/** The spec of one virtual service alone (a provider that names no service). */
export function virtualServiceSpec(vs: VirtualService): SelectorSpec {
  return {
    ...EMPTY_SPEC,
    backends: vs.backends.map((b) => b.href),
    addresses: mergeIntervals(virtualServiceIntervals(vs)),
  };
}
