// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Policy compiler: active policy version + workload inventory → one
 * `NodePolicy` per node (what each C-VEN must enforce), kept up to date
 * incrementally as workloads come, go and change.
 *
 * Owns: which workload gets which entry (a rule governs both ends: an inbound
 * entry at each provider workload naming the consumers' set, an outbound entry
 * at each consumer workload naming the providers' set), `container_host`,
 * entry order, set membership and its incremental upkeep. Pure: no I/O, no
 * clock, no randomness; equal input gives byte-identical output, so agents
 * can diff what they get.
 * Must not import: ../store, ../http, fastify, node:*.
 * Semantics: shared/POLICY.md. Output types: pce/src/api/node-policy.ts.
 */
import { compareHrefs } from '../api/evaluate.js';
import { formatInterval, intervalOf, mergeIntervals, parseAddress, unmapIpv4, type IpInterval } from '../api/ip.js';
import type { AddressSet, NodePolicy, PolicyEntry, WorkloadPolicy } from '../api/node-policy.js';
import type { CompileInput, InventoryWorkload } from './input.js';
import { buildContext } from './resolve.js';
import { expandRules, type CompiledRule } from './rules.js';
import { EMPTY_SPEC, SelectorRegistry, type MatchTarget, type Selector, type SelectorSpec } from './selectors.js';

/** A workload as the compiler keeps it. */
interface Known extends MatchTarget {
  w: InventoryWorkload;
  /** Parsed `w.addresses` (IPv4-mapped IPv6 as IPv4); unparsable ones dropped. */
  intervals: IpInterval[];
  /** The selectors that select it. */
  memberOf: Set<Selector>;
  /** Its compiled policy when it enforces (not unmanaged, not idle), else null. */
  policy: WorkloadPolicy | null;
  /** The sets its policy names (each once). */
  refs: Selector[];
}

/** The node hosting a workload: a node hosts itself; unmanaged workloads have none. */
function hostOf(w: InventoryWorkload): string | null {
  if (w.kind === 'node') return w.href;
  return w.kind === 'unmanaged' ? null : w.node;
}

function isEnforcing(w: InventoryWorkload): boolean {
  return w.kind !== 'unmanaged' && w.enforcement_mode !== 'idle';
}

function prepare(w: InventoryWorkload): Known {
  const copy: InventoryWorkload = { ...w, labels: [...w.labels], addresses: [...w.addresses].sort() };
  const intervals: IpInterval[] = [];
  for (const a of copy.addresses) {
    const p = parseAddress(a, false);
    if (p) intervals.push(intervalOf(unmapIpv4(p)));
  }
  return {
    href: w.href,
    labels: new Set(w.labels),
    host: hostOf(w),
    w: copy,
    intervals,
    memberOf: new Set(),
    policy: null,
    refs: [],
  };
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}

function deleteFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

/** The entries of one direction being collected: entry group → rule and peer sets (OR'd). */
type EntryDraft = Map<number, { rule: CompiledRule; peers: Selector[] }>;

function addEntry(draft: EntryDraft, rule: CompiledRule, peer: Selector): void {
  const hit = draft.get(rule.group);
  if (!hit) draft.set(rule.group, { rule, peers: [peer] });
  else if (!hit.peers.includes(peer)) hit.peers.push(peer);
}

/**
 * The compiled policy of one policy version, kept current as the inventory
 * changes. A policy change means a new `PolicyCompiler`.
 *
 * Incremental upkeep: a workload that appears, goes or changes is tested
 * only against the selectors indexed under its labels, href and host; set
 * memberships change; its own entries are rebuilt (entries name sets, so no
 * other workload's entries change); the nodes whose entries name a changed
 * set, and its own node, are reported. Results are treated as immutable.
 *
 * @example
 * const c = new PolicyCompiler(input);
 * for (const node of c.upsertWorkload(pod)) push(node, c.nodePolicy(node));
 */
export class PolicyCompiler {
  readonly #version: number;
  readonly #workloads = new Map<string, Known>();
  readonly #byLabel = new Map<string, Set<string>>();
  readonly #byHost = new Map<string, Set<string>>();
  readonly #registry = new SelectorRegistry((l) => this.#byLabel.get(l)?.size ?? 0);
  readonly #asProvider = new Map<Selector, CompiledRule[]>();
  readonly #asConsumer = new Map<Selector, CompiledRule[]>();
  readonly #containerHostRules: CompiledRule[] = [];
  /** host → hrefs of the workloads with a policy hosted there. */
  readonly #enforcingOn = new Map<string, Set<string>>();
  /** Entries are shared between workloads: entry group → sorted peer names → entry. */
  readonly #entries = new Map<number, Map<string, PolicyEntry>>();
  /** container_host: host → the set of that node alone (inbound at the workloads it hosts). */
  readonly #hostSets = new Map<string, Selector>();
  /** container_host: rule → host → the rule's providers hosted there (outbound at the node). */
  readonly #hostedProviders = new Map<CompiledRule, Map<string, Selector>>();
  readonly #setCache = new Map<string, AddressSet>();
  readonly #nodeCache = new Map<string, NodePolicy>();

  constructor(input: CompileInput) {
    this.#version = input.version;
    for (const w of input.inventory.workloads) {
      const old = this.#workloads.get(w.href);
      if (old) this.#unindex(old);
      this.#indexWorkload(prepare(w));
    }
    const ctx = buildContext(input.policy, input.inventory.labels);
    for (const r of expandRules(ctx, input.policy, (spec) => this.#intern(spec))) {
      push(this.#asProvider, r.provider, r);
      if (r.consumer) push(this.#asConsumer, r.consumer, r);
      else this.#containerHostRules.push(r);
    }
    for (const k of this.#workloads.values()) this.#placePolicy(k, undefined, new Set());
  }

  /** Number of interned selectors (address sets that exist, referenced or not). */
  get selectorCount(): number {
    return this.#registry.size;
  }

  /** Hrefs of the node workloads, sorted. */
  nodeHrefs(): string[] {
    const out: string[] = [];
    for (const k of this.#workloads.values()) if (k.w.kind === 'node') out.push(k.href);
    return out.sort(compareHrefs);
  }

  /** The node's compiled policy, or undefined when no node workload has this href. */
  nodePolicy(nodeHref: string): NodePolicy | undefined {
    const node = this.#workloads.get(nodeHref);
    if (!node || node.w.kind !== 'node') return undefined;
    const hit = this.#nodeCache.get(nodeHref);
    if (hit) return hit;
    const hosted = [...(this.#enforcingOn.get(nodeHref) ?? [])].sort(compareHrefs).map((h) => this.#workloads.get(h)!);
    const names = new Set<string>();
    for (const k of hosted) for (const sel of k.refs) names.add(sel.name);
    const np: NodePolicy = {
      node: nodeHref,
      policy_version: this.#version,
      sets: this.#setsNamed(names),
      workloads: hosted.map((k) => k.policy!),
    };
    this.#nodeCache.set(nodeHref, np);
    return np;
  }

  /**
   * Add or replace a workload. Returns the hrefs of the node workloads whose
   * `NodePolicy` changed (including a node that appeared or stopped being one).
   */
  upsertWorkload(w: InventoryWorkload): Set<string> {
    const changed = new Set<string>();
    const old = this.#workloads.get(w.href);
    const k = prepare(w);
    if (old) this.#unindex(old);
    this.#indexWorkload(k);
    const before = old?.memberOf ?? new Set<Selector>();
    k.memberOf = new Set(this.#registry.matching(k));
    for (const sel of before) {
      if (k.memberOf.has(sel)) continue;
      sel.members.delete(k.href);
      this.#setChanged(sel, changed);
    }
    for (const sel of k.memberOf) {
      if (before.has(sel)) continue;
      sel.members.add(k.href);
      this.#setChanged(sel, changed);
    }
    if (old && old.w.addresses.join() !== k.w.addresses.join()) {
      for (const sel of k.memberOf) {
        if (!before.has(sel)) continue;
        const was = this.#buildSet(sel, { href: k.href, intervals: old.intervals });
        if (JSON.stringify(was) !== JSON.stringify(this.#buildSet(sel))) this.#setChanged(sel, changed);
      }
    }
    this.#placePolicy(k, old, changed);
    if (w.kind === 'node' || old?.w.kind === 'node') {
      if (w.kind !== old?.w.kind) changed.add(w.href);
      this.#nodeCache.delete(w.href);
    }
    return this.#nodesOnly(changed, old);
  }

  /** Remove a workload. Returns the node hrefs whose `NodePolicy` changed or went away. */
  removeWorkload(href: string): Set<string> {
    const changed = new Set<string>();
    const old = this.#workloads.get(href);
    if (!old) return changed;
    this.#unindex(old);
    for (const sel of old.memberOf) {
      sel.members.delete(href);
      this.#setChanged(sel, changed);
    }
    this.#unregister(old, changed);
    if (old.w.kind === 'node') {
      changed.add(href);
      this.#nodeCache.delete(href);
    }
    return this.#nodesOnly(changed, old);
  }

  /**
   * The entries of any workload, in the inventory or not (policy_check of a
   * `{labels}` or `{ip}` actor), whatever its kind and mode, and the sets they
   * name. A workload outside the inventory is in none of those sets.
   */
  policyFor(w: InventoryWorkload): { policy: WorkloadPolicy; sets: Record<string, AddressSet> } {
    const k = prepare(w);
    k.memberOf = new Set(this.#registry.matching(k));
    const { policy, refs } = this.#buildPolicy(k);
    return { policy, sets: this.#setsNamed(refs.map((sel) => sel.name)) };
  }

  // ------------------------------------------------------------ internals

  #indexWorkload(k: Known): void {
    this.#workloads.set(k.href, k);
    for (const l of k.labels) addTo(this.#byLabel, l, k.href);
    if (k.host !== null) addTo(this.#byHost, k.host, k.href);
  }

  #unindex(k: Known): void {
    this.#workloads.delete(k.href);
    for (const l of k.labels) deleteFrom(this.#byLabel, l, k.href);
    if (k.host !== null) deleteFrom(this.#byHost, k.host, k.href);
  }

  /** The shared selector of a spec; a new one gets its members from the workloads it could select. */
  #intern(spec: SelectorSpec): Selector {
    const { selector, isNew } = this.#registry.intern(spec);
    if (!isNew) return selector;
    for (const href of this.#candidates(selector)) {
      const k = this.#workloads.get(href);
      if (k && selector.matches(k)) {
        selector.members.add(href);
        k.memberOf.add(selector);
      }
    }
    return selector;
  }

  /** Workloads a new selector could select, using the clause the registry indexed it under. */
  #candidates(sel: Selector): Iterable<string> {
    const s = sel.spec;
    if (s.node !== null) return [...(this.#byHost.get(s.node) ?? [])];
    const out = new Set([...s.workloads, ...s.backends]);
    if (s.labels === null) return out;
    if (sel.indexClause === null) return [...this.#workloads.keys()];
    for (const l of sel.indexClause) for (const h of this.#byLabel.get(l) ?? []) out.add(h);
    return out;
  }

  /** A set's contents changed: drop cached copies and report the nodes whose entries name it. */
  #setChanged(sel: Selector, changed: Set<string>): void {
    this.#setCache.delete(sel.name);
    for (const node of sel.hostRefs.keys()) {
      changed.add(node);
      this.#nodeCache.delete(node);
    }
  }

  #buildSet(sel: Selector, override?: { href: string; intervals: IpInterval[] }): AddressSet {
    const intervals = [...sel.spec.addresses];
    for (const h of sel.members) {
      const iv = override && override.href === h ? override.intervals : this.#workloads.get(h)?.intervals;
      if (iv) for (const i of iv) intervals.push(i);
    }
    return {
      name: sel.name,
      addresses: mergeIntervals(intervals).map(formatInterval),
      workloads: [...sel.members].sort(compareHrefs),
    };
  }

  #setsNamed(names: Iterable<string>): Record<string, AddressSet> {
    const out: Record<string, AddressSet> = {};
    for (const name of [...names].sort()) {
      let set = this.#setCache.get(name);
      if (!set) {
        set = this.#buildSet(this.#registry.byName(name)!);
        this.#setCache.set(name, set);
      }
      out[name] = set;
    }
    return out;
  }

  /** The entries of a workload from the selectors it is in. */
  #buildPolicy(k: Known): { policy: WorkloadPolicy; refs: Selector[] } {
    const inbound: EntryDraft = new Map();
    const outbound: EntryDraft = new Map();
    // Selectors interned below (container_host) join memberOf while it is
    // iterated; they are sides of no rule, so visiting them adds nothing.
    for (const sel of k.memberOf) {
      for (const r of this.#asProvider.get(sel) ?? []) {
        if (r.consumer) addEntry(inbound, r, r.consumer);
        else if (k.host !== null) addEntry(inbound, r, this.#hostSet(k.host));
      }
      for (const r of this.#asConsumer.get(sel) ?? []) addEntry(outbound, r, r.provider);
    }
    if (k.w.kind === 'node') {
      for (const r of this.#containerHostRules) addEntry(outbound, r, this.#hostedProvidersOf(r, k.href));
    }
    const refs = new Set<Selector>();
    for (const d of [inbound, outbound]) for (const { peers } of d.values()) for (const p of peers) refs.add(p);
    const policy: WorkloadPolicy = {
      href: k.href,
      kind: k.w.kind,
      enforcement_mode: k.w.enforcement_mode,
      visibility_level: k.w.visibility_level ?? 'flow_summary',
      addresses: k.w.addresses,
      inbound: this.#finishEntries(inbound),
      outbound: this.#finishEntries(outbound),
    };
    return { policy, refs: [...refs] };
  }

  /** Entries in group order (precedence, rule, services), each shared with every workload having it. */
  #finishEntries(draft: EntryDraft): PolicyEntry[] {
    const groups = [...draft.keys()].sort((a, b) => a - b);
    return groups.map((g) => {
      const { rule, peers } = draft.get(g)!;
      const names = peers.length === 1 ? [peers[0]!.name] : peers.map((p) => p.name).sort();
      const key = names.length === 1 ? names[0]! : names.join(' ');
      let byPeers = this.#entries.get(g);
      if (!byPeers) this.#entries.set(g, (byPeers = new Map()));
      let entry = byPeers.get(key);
      if (!entry) {
        entry = { action: rule.action, peers: names, services: rule.services, rule: rule.rule };
        byPeers.set(key, entry);
      }
      return entry;
    });
  }

  /** container_host peers at a workload hosted on `host`: that node alone. */
  #hostSet(host: string): Selector {
    let sel = this.#hostSets.get(host);
    if (!sel) this.#hostSets.set(host, (sel = this.#intern({ ...EMPTY_SPEC, workloads: [host] })));
    return sel;
  }

  /**
   * container_host peers at node `host` for rule `r`: the rule's provider
   * workloads hosted there (ours: workloads only; the providers' IP lists and
   * virtual-service addresses are not "the pod the node hosts", so they are
   * left out, while virtual-service backends hosted there are in).
   */
  #hostedProvidersOf(r: CompiledRule, host: string): Selector {
    let byHost = this.#hostedProviders.get(r);
    if (!byHost) this.#hostedProviders.set(r, (byHost = new Map()));
    let sel = byHost.get(host);
    if (!sel) byHost.set(host, (sel = this.#intern({ ...r.provider.spec, addresses: [], node: host })));
    return sel;
  }

  /** (Re)build a workload's policy and move its registration; report its node(s) if anything differs. */
  #placePolicy(k: Known, old: Known | undefined, changed: Set<string>): void {
    if (isEnforcing(k.w)) Object.assign(k, this.#buildPolicy(k));
    const same =
      old !== undefined &&
      old.host === k.host &&
      (old.policy === null) === (k.policy === null) &&
      JSON.stringify(old.policy) === JSON.stringify(k.policy);
    this.#unregister(old, same ? null : changed);
    if (k.policy === null || k.host === null) return;
    addTo(this.#enforcingOn, k.host, k.href);
    for (const sel of k.refs) sel.hostRefs.set(k.host, (sel.hostRefs.get(k.host) ?? 0) + 1);
    if (!same) {
      changed.add(k.host);
      this.#nodeCache.delete(k.host);
    }
  }

  #unregister(old: Known | undefined, changed: Set<string> | null): void {
    if (!old || old.policy === null || old.host === null) return;
    deleteFrom(this.#enforcingOn, old.host, old.href);
    for (const sel of old.refs) {
      const n = (sel.hostRefs.get(old.host) ?? 0) - 1;
      if (n > 0) sel.hostRefs.set(old.host, n);
      else sel.hostRefs.delete(old.host);
    }
    if (changed) {
      changed.add(old.host);
      this.#nodeCache.delete(old.host);
    }
  }

  /** Keep the node workloads (and the node that was just removed or demoted). */
  #nodesOnly(changed: Set<string>, old: Known | undefined): Set<string> {
    const out = new Set<string>();
    for (const n of [...changed].sort(compareHrefs)) {
      if (this.#workloads.get(n)?.w.kind === 'node' || (old?.href === n && old.w.kind === 'node')) out.add(n);
    }
    return out;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/**
 * Compile a policy version against an inventory: one `NodePolicy` per node
 * workload, keyed (and ordered) by node href.
 *
 * @example const byNode = compileAll({ version: 3, policy, inventory });
 */
export function compileAll(input: CompileInput): Map<string, NodePolicy> {
  const c = new PolicyCompiler(input);
  const out = new Map<string, NodePolicy>();
  for (const n of c.nodeHrefs()) out.set(n, c.nodePolicy(n)!);
  return out;
}
