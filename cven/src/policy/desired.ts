// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Desired state: the node's compiled policy (`NodePolicy`) and the pods the
 * runtime reports → one `PodTable` per network namespace to enforce (each
 * managed pod's, and the node's own).
 *
 * Owns: how POLICY.md's modes become chain policies and rule verdicts
 * (precedence 1-3 of "Deciding a flow" is the entries' order, first match
 * wins), the family split of address sets, the node's implicit rules, and
 * the fail-closed table of a pod whose namespace enforces but whose own
 * policy has not arrived yet. Pure: no I/O.
 * Must not import: ../nft, ../probe, ../cri (it consumes their plain types
 * only). Contract: shared/POLICY.md; input types pce/src/api/node-policy.ts.
 */
import type {
  AddressSet,
  EnforcementMode,
  NodePolicy,
  PolicyEntry,
  ServiceMatch,
  WorkloadPolicy,
} from '@bulkhead/pce/api';

/** Modes that write a table (idle writes none). */
export type TableMode = Exclude<EnforcementMode, 'idle'>;

/** An nft set: one family of one `AddressSet` (`lg_<12 hex>_4` / `_6`). */
export interface NftSet {
  name: string;
  family: 4 | 6;
  /** `addr/len` or `first-last`, non-overlapping (the PCE normalizes). */
  elements: string[];
}

/** One nft rule of a `PodTable` chain. */
export interface NftRule {
  verdict: 'accept' | 'drop';
  /** Which address family it matches; null: both (no address match). */
  family: 4 | 6 | null;
  /** The peer: a named set (`@name`), inline addresses, or anyone (null). */
  peer: { set: string } | { addresses: string[] } | null;
  /** null: every service. */
  service: ServiceMatch | null;
  /** The href of the rule it came from, or `implicit: <why>`. Max 128 bytes (nft). */
  comment: string;
}

/**
 * Everything `table inet bulkhead` holds in one namespace. Level-based:
 * always the whole table. Sets and rules are sorted, so equal policy gives
 * equal tables (and equal scripts).
 */
export interface PodTable {
  mode: TableMode;
  /** Chain policy of the input (inbound) and output (outbound) hooks. */
  inboundPolicy: 'accept' | 'drop';
  outboundPolicy: 'accept' | 'drop';
  sets: NftSet[];
  inbound: NftRule[];
  outbound: NftRule[];
}

/** Where a table goes. */
export interface TableTarget {
  /** `node`, or the pod's uid. */
  key: string;
  /** Network namespace path; null is the agent's own (the node's). */
  netnsPath: string | null;
  /** For logs: `namespace/name`, or the node's name. */
  label: string;
  /** Href of the workload it enforces; null for a pending (fail-closed) pod. */
  workload: string | null;
  table: PodTable;
}

/** A pod as desired state needs it (a subset of cri's NodePod). */
export interface DesiredPod {
  uid: string;
  namespace: string;
  name: string;
  ip: string;
  netnsPath: string;
  hostNetwork: boolean;
}

/** What the node always allows, whatever the policy (DESIGN: never cut the agent off). */
export interface NodeImplicit {
  /** The PCE's address(es) and port, from `--pce`. */
  pce: { addresses: string[]; port: number };
  /** The cluster's resolvers (from /etc/resolv.conf), port 53 UDP and TCP. */
  dns: string[];
}

/** The node's implicit rules, as they are enforced and reported (outbound). */
export function implicitNodeRules(imp: NodeImplicit): NftRule[] {
  const rules: NftRule[] = [];
  const split = (addrs: string[]): [4 | 6, string[]][] =>
    ([4, 6] as const)
      .map((f): [4 | 6, string[]] => [f, addrs.filter((a) => a.includes(':') === (f === 6)).sort()])
      .filter(([, a]) => a.length > 0);
  for (const [family, addresses] of split(imp.pce.addresses))
    rules.push({
      verdict: 'accept',
      family,
      peer: { addresses },
      service: { proto: 6, port: imp.pce.port },
      comment: 'implicit: the agent to its PCE',
    });
  for (const [family, addresses] of split(imp.dns))
    for (const proto of [17, 6])
      rules.push({
        verdict: 'accept',
        family,
        peer: { addresses },
        service: { proto, port: 53 },
        comment: 'implicit: DNS to the cluster resolver',
      });
  return rules;
}

function setName(base: string, family: 4 | 6): string {
  return `${base}_${family}`;
}

/** Split an address set's elements by family (IPv6 elements contain ':'). */
export function nftSetsOf(set: AddressSet): NftSet[] {
  return ([4, 6] as const).map((family) => ({
    name: setName(set.name, family),
    family,
    elements: set.addresses.filter((a) => a.includes(':') === (family === 6)),
  }));
}

/** Families a service can match: ICMP is IPv4 only, ICMPv6 IPv6 only. */
function familiesOf(s: ServiceMatch): (4 | 6)[] {
  if (s.proto === 1) return [4];
  if (s.proto === 58) return [6];
  return [4, 6];
}

/** The verdict an entry's action gets in a chain (override-deny and deny drop). */
function verdictOf(e: PolicyEntry): 'accept' | 'drop' {
  return e.action === 'allow' ? 'accept' : 'drop';
}

function entryRules(entries: PolicyEntry[]): NftRule[] {
  const rules: NftRule[] = [];
  for (const e of entries)
    for (const peer of e.peers)
      for (const service of e.services)
        for (const family of familiesOf(service))
          rules.push({
            verdict: verdictOf(e),
            family,
            peer: { set: setName(peer, family) },
            service: service.proto === -1 ? null : service,
            comment: e.rule,
          });
  return rules;
}

/**
 * The table of one enforcing workload. Chains by mode (POLICY.md table):
 * 1. full: both directions, policy drop; entries in precedence order.
 * 2. selective: inbound only, policy accept; override-deny and deny entries
 *    drop, allow entries accept first so a later deny cannot catch them.
 * 3. visibility_only: nothing blocks; chains exist (accept) so a later mode
 *    change is one rewrite, and the table proves the agent is there.
 */
export function workloadTable(
  w: WorkloadPolicy,
  sets: Record<string, AddressSet>,
  extraOutbound: NftRule[] = [],
): PodTable {
  const mode = w.enforcement_mode as TableMode;
  const inbound = mode === 'visibility_only' ? [] : entryRules(w.inbound);
  const outbound = mode === 'full' ? entryRules(w.outbound) : [];
  const used = new Set([...inbound, ...outbound].flatMap((r) => (r.peer && 'set' in r.peer ? [r.peer.set] : [])));
  const nftSets = Object.values(sets)
    .flatMap(nftSetsOf)
    .filter((s) => used.has(s.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    mode,
    inboundPolicy: mode === 'full' ? 'drop' : 'accept',
    outboundPolicy: mode === 'full' ? 'drop' : 'accept',
    sets: nftSets,
    inbound,
    outbound: [...extraOutbound, ...outbound],
  };
}

/** A pod whose namespace enforces in full mode before its own policy arrives: drop all but established. */
export function pendingTable(): PodTable {
  return { mode: 'full', inboundPolicy: 'drop', outboundPolicy: 'drop', sets: [], inbound: [], outbound: [] };
}

/** Which local pod a container workload of the policy is: by pod uid (its id), else by address. */
function podOf(w: WorkloadPolicy, pods: DesiredPod[]): DesiredPod | undefined {
  const id = w.href.slice(w.href.lastIndexOf('/') + 1);
  return pods.find((p) => p.uid === id) ?? pods.find((p) => p.ip !== '' && w.addresses.includes(p.ip));
}

/**
 * Every table the node must hold now.
 *
 * @param namespaceModes the enforcement mode of each managed namespace of
 *   this cluster (from `AgentPolicy.namespaces`): a pod of a namespace in
 *   full mode that the policy does not list yet gets the fail-closed table,
 *   so it never serves traffic its policy would block.
 */
export function desiredTables(args: {
  policy: NodePolicy;
  pods: DesiredPod[];
  nodeName: string;
  implicit: NodeImplicit;
  namespaceModes?: Record<string, EnforcementMode>;
}): TableTarget[] {
  const { policy, pods } = args;
  const out: TableTarget[] = [];
  const covered = new Set<string>();
  for (const w of policy.workloads) {
    if (w.enforcement_mode === 'idle') continue;
    if (w.kind === 'node') {
      if (w.href !== policy.node) continue;
      out.push({
        key: 'node',
        netnsPath: null,
        label: args.nodeName,
        workload: w.href,
        table: workloadTable(w, policy.sets, implicitNodeRules(args.implicit)),
      });
    } else if (w.kind === 'container_workload') {
      const pod = podOf(w, pods);
      if (!pod || pod.hostNetwork || !pod.netnsPath || covered.has(pod.uid)) continue;
      covered.add(pod.uid);
      out.push({
        key: pod.uid,
        netnsPath: pod.netnsPath,
        label: `${pod.namespace}/${pod.name}`,
        workload: w.href,
        table: workloadTable(w, policy.sets),
      });
    }
  }
  for (const pod of pods) {
    if (covered.has(pod.uid) || pod.hostNetwork || !pod.netnsPath) continue;
    if (args.namespaceModes?.[pod.namespace] !== 'full') continue;
    out.push({
      key: pod.uid,
      netnsPath: pod.netnsPath,
      label: `${pod.namespace}/${pod.name}`,
      workload: null,
      table: pendingTable(),
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
