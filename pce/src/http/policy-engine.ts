// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The bridge between the store and the pure compiler: loads a policy version
 * and the inventory, keeps a compiled `PolicyCompiler` per version, and
 * answers policy checks with the one evaluator (`decideFlow`).
 *
 * Owns: the cache of compiled policy (dropped whenever something is written,
 * see `invalidate`), and how a policy_check actor becomes a flow end.
 */
import { createHash } from 'node:crypto';
import type { AgentPolicy } from '../api/agent.js';
import { invalid } from '../api/errors.js';
import { decideFlow, type FlowEnd, type FlowService } from '../api/evaluate.js';
import type { EnforcementMode, VisibilityLevel } from '../api/inventory-objects.js';
import type { AddressSet } from '../api/node-policy.js';
import {
  PROVISIONABLE_KINDS,
  type LabelSummary,
  type PolicyContent,
  type ProvisionableKind,
} from '../api/policy-objects.js';
import { PolicyCompiler } from '../compiler/compile.js';
import type { CompileInput, InventoryWorkload } from '../compiler/input.js';
import type { PolicyObjectLike, VersionContent } from '../domain/provision.js';
import type { Store } from '../store/store.js';

/** A workload document as the store keeps it (the fields the compiler reads). */
export interface WorkloadDoc {
  href: string;
  name: string | null;
  hostname?: string | null;
  labels: LabelSummary[];
  interfaces?: { address: string }[];
  public_ip?: string | null;
  enforcement_mode: EnforcementMode;
  visibility_level?: VisibilityLevel;
  /** True for a node with a C-VEN; false for a workload created by hand. */
  managed?: boolean;
  /** Container workloads: the node workload hosting the pod. */
  node?: { href: string } | null;
}

export type CheckActor = { workload?: { href: string }; ip?: string; labels?: { href: string }[] };

export interface PolicyCheckResult {
  verdict: string;
  rules: { href: string }[];
  decision: string;
  blocked_by: 'consumer' | 'provider' | null;
  policy_version: number | 'draft';
}

export function toInventoryWorkload(doc: WorkloadDoc, kind: InventoryWorkload['kind']): InventoryWorkload {
  const addresses = new Set<string>();
  for (const i of doc.interfaces ?? []) if (i.address) addresses.add(i.address);
  if (doc.public_ip) addresses.add(doc.public_ip);
  return {
    href: doc.href,
    name: doc.name ?? doc.hostname ?? doc.href,
    kind,
    labels: doc.labels.map((l) => l.href),
    addresses: [...addresses].sort(),
    enforcement_mode: kind === 'unmanaged' ? 'idle' : doc.enforcement_mode,
    ...(doc.visibility_level ? { visibility_level: doc.visibility_level } : {}),
    node: kind === 'container_workload' ? (doc.node?.href ?? null) : kind === 'node' ? doc.href : null,
  };
}

export class PolicyEngine {
  #generation = 0;
  #cache = new Map<string, { generation: number; compiler: PolicyCompiler; version: number }>();

  /** Push subscribers (agents' policy streams) by node workload href. */
  #subscribers = new Map<string, Set<(p: AgentPolicy) => void>>();
  #pushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly store: Store) {}

  /** Something was written: compiled policy must be rebuilt on next use, and pushed if it changed. */
  invalidate(): void {
    this.#generation += 1;
    if (this.#subscribers.size > 0 && this.#pushTimer === null)
      // Coalesce a burst of writes into one recompile (10 ms).
      this.#pushTimer = setTimeout(() => {
        this.#pushTimer = null;
        void this.#push();
      }, 10);
  }

  /** What a node's C-VEN enforces now, with a content hash as its version. */
  async agentPolicy(nodeHref: string): Promise<AgentPolicy> {
    const { compiler, version } = await this.compiler('active');
    const policy = compiler.nodePolicy(nodeHref) ?? {
      node: nodeHref,
      policy_version: version,
      sets: {},
      workloads: [],
    };
    const namespaces = await this.namespaceModes(nodeHref);
    const hash = createHash('sha256').update(JSON.stringify({ policy, namespaces })).digest('hex').slice(0, 32);
    return { version: hash, policy_version: version, policy, namespaces };
  }

  /** The enforcement mode of every managed namespace in the node's container cluster, keys sorted. */
  async namespaceModes(nodeHref: string): Promise<Record<string, EnforcementMode>> {
    const node = await this.store.getDoc<WorkloadDoc & { container_cluster?: { href: string } | null }>(
      'workloads',
      nodeHref.slice(nodeHref.lastIndexOf('/') + 1),
    );
    const cluster = node?.container_cluster?.href;
    if (!cluster) return {};
    const rows = await this.store.db
      .selectFrom('container_workload_profiles')
      .select('body')
      .where('cluster_id', '=', cluster.slice(cluster.lastIndexOf('/') + 1))
      .execute();
    const modes: [string, EnforcementMode][] = [];
    for (const r of rows) {
      const p = JSON.parse(r.body) as { namespace: string | null; managed: boolean; enforcement_mode: EnforcementMode };
      if (p.namespace !== null && p.managed) modes.push([p.namespace, p.enforcement_mode]);
    }
    return Object.fromEntries(modes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Call `fn` with the node's policy whenever it changes. Returns the unsubscribe function. */
  subscribe(nodeHref: string, fn: (p: AgentPolicy) => void): () => void {
    let set = this.#subscribers.get(nodeHref);
    if (!set) this.#subscribers.set(nodeHref, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#subscribers.delete(nodeHref);
    };
  }

  #lastPushed = new Map<string, string>();

  async #push(): Promise<void> {
    try {
      for (const [node, fns] of this.#subscribers) {
        const p = await this.agentPolicy(node);
        if (this.#lastPushed.get(node) === p.version) continue;
        this.#lastPushed.set(node, p.version);
        for (const fn of fns) fn(p);
      }
    } catch {
      // The store is closing or a compile failed: agents poll and will catch up.
    }
  }

  /** Stop pushing (server shutdown). */
  close(): void {
    if (this.#pushTimer) clearTimeout(this.#pushTimer);
    this.#pushTimer = null;
    this.#subscribers.clear();
  }

  /** A version's objects by kind (row version: 0 draft, -1 built-ins only, N). */
  async loadContent(rowVersion: number, store: Store = this.store): Promise<VersionContent> {
    const out = {} as VersionContent;
    for (const kind of PROVISIONABLE_KINDS) out[kind] = await store.listPolicy<PolicyObjectLike>(kind, rowVersion);
    return out;
  }

  async inventory(): Promise<InventoryWorkload[]> {
    const wls = (await this.store.listDocs<WorkloadDoc>('workloads')).map((w) =>
      toInventoryWorkload(w, w.managed ? 'node' : 'unmanaged'),
    );
    const cws = (await this.store.listDocs<WorkloadDoc>('container_workloads')).map((w) =>
      toInventoryWorkload(w, 'container_workload'),
    );
    return [...wls, ...cws];
  }

  async compileInput(which: 'draft' | 'active'): Promise<CompileInput> {
    const active = await this.store.activeVersion();
    const row = which === 'draft' ? 0 : active > 0 ? active : -1;
    const content = await this.loadContent(row);
    const policy = {} as PolicyContent;
    for (const kind of PROVISIONABLE_KINDS)
      (policy as unknown as Record<ProvisionableKind, unknown[]>)[kind] = [...content[kind].values()];
    const labels = (await this.store.listDocs<LabelSummary>('labels')).map((l) => ({
      href: l.href,
      key: l.key,
      value: l.value,
    }));
    return {
      version: which === 'draft' ? 0 : active,
      policy,
      inventory: { labels, workloads: await this.inventory() },
    };
  }

  /** The compiled policy of the draft or the active version (cached until a write). */
  async compiler(which: 'draft' | 'active'): Promise<{ compiler: PolicyCompiler; version: number }> {
    const hit = this.#cache.get(which);
    if (hit && hit.generation === this.#generation) return hit;
    const generation = this.#generation;
    const input = await this.compileInput(which);
    const entry = { generation, compiler: new PolicyCompiler(input), version: input.version };
    this.#cache.set(which, entry);
    return entry;
  }

  /**
   * "Can source reach destination on this service?" under the draft or the
   * active policy: the verdict of the policy alone, the deciding rule, and the
   * decision given both ends' enforcement modes.
   *
   * @throws BulkheadError BH_ERR_API_VALIDATION naming `source` or
   *   `destination` when an actor is malformed or names no workload.
   */
  async policyCheck(
    which: 'draft' | 'active',
    source: CheckActor,
    destination: CheckActor,
    service: FlowService,
  ): Promise<PolicyCheckResult> {
    const { compiler, version } = await this.compiler(which);
    const inventory = await this.inventory();
    const byHref = new Map(inventory.map((w) => [w.href, w]));
    const labelHrefs = new Set((await this.store.listDocs<LabelSummary>('labels')).map((l) => l.href));
    const synthetic: string[] = [];

    const resolve = (field: string, a: CheckActor): { w?: InventoryWorkload; ip?: string } => {
      const given = (['workload', 'ip', 'labels'] as const).filter((k) => a[k] !== undefined);
      if (given.length !== 1) throw invalid(field, 'give exactly one of workload, ip, labels');
      if (a.workload) {
        const w = byHref.get(a.workload.href);
        if (!w) throw invalid(`${field}.workload.href`, `workload ${a.workload.href} does not exist`);
        return { w };
      }
      if (a.ip !== undefined) {
        const w = inventory.find((x) => x.addresses.includes(a.ip!));
        return w ? { w, ip: a.ip } : { ip: a.ip };
      }
      a.labels!.forEach((l, i) => {
        if (!labelHrefs.has(l.href)) throw invalid(`${field}.labels[${i}].href`, `label ${l.href} does not exist`);
      });
      const w: InventoryWorkload = {
        href: `/orgs/1/workloads/policy-check-${field}`,
        name: `policy check ${field}`,
        kind: 'unmanaged',
        labels: a.labels!.map((l) => l.href),
        addresses: [],
        enforcement_mode: 'idle',
        node: null,
      };
      synthetic.push(w.href);
      return { w };
    };

    const src = resolve('source', source);
    const dst = resolve('destination', destination);
    // Synthetic (labels-only) workloads join the sets for this check and leave
    // right after; no await in between, so no other request sees them.
    for (const r of [src, dst]) if (r.w && synthetic.includes(r.w.href)) compiler.upsertWorkload(r.w);
    try {
      const sets: Record<string, AddressSet> = {};
      const end = (r: { w?: InventoryWorkload; ip?: string }): FlowEnd => {
        if (!r.w) return { peer: { ip: r.ip! }, mode: 'unmanaged' };
        const { policy, sets: s } = compiler.policyFor(r.w);
        Object.assign(sets, s);
        return {
          peer: { href: r.w.href, ...((r.ip ?? r.w.addresses[0]) ? { ip: r.ip ?? r.w.addresses[0] } : {}) },
          mode: r.w.kind === 'unmanaged' ? 'unmanaged' : r.w.enforcement_mode,
          policy,
        };
      };
      const consumer = end(src);
      const provider = end(dst);
      const d = decideFlow({ consumer, provider, sets, service });
      return {
        verdict: d.verdict,
        rules: d.rules.map((href) => ({ href })),
        decision: d.decision,
        blocked_by: d.blocked_by,
        policy_version: which === 'draft' ? 'draft' : version,
      };
    } finally {
      for (const h of synthetic) compiler.removeWorkload(h);
    }
  }

  /**
   * Decide many flows (by address) under the draft or active policy with the
   * ends' current modes: the explorer's draft decisions. One inventory read
   * and one compile for the whole list.
   */
  async decideFlows(
    which: 'draft' | 'active',
    flows: { src_ip: string; dst_ip: string; service: FlowService }[],
  ): Promise<{ decision: string; rule: string | null }[]> {
    const { compiler } = await this.compiler(which);
    const inventory = await this.inventory();
    const byIp = new Map<string, InventoryWorkload>();
    for (const w of inventory) for (const a of w.addresses) if (!byIp.has(a)) byIp.set(a, w);
    const policies = new Map<string, ReturnType<PolicyCompiler['policyFor']>>();
    const end = (ip: string, sets: Record<string, AddressSet>): FlowEnd => {
      const w = byIp.get(ip);
      if (!w) return { peer: { ip }, mode: 'unmanaged' };
      let p = policies.get(w.href);
      if (!p) policies.set(w.href, (p = compiler.policyFor(w)));
      Object.assign(sets, p.sets);
      return {
        peer: { href: w.href, ip },
        mode: w.kind === 'unmanaged' ? 'unmanaged' : w.enforcement_mode,
        policy: p.policy,
      };
    };
    return flows.map((f) => {
      const sets: Record<string, AddressSet> = {};
      const d = decideFlow({ consumer: end(f.src_ip, sets), provider: end(f.dst_ip, sets), sets, service: f.service });
      return { decision: d.decision, rule: d.rules[0] ?? null };
    });
  }
}
