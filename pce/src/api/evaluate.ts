// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The one flow evaluator: given compiled policy (`node-policy.ts`), the
 * verdict for a connection, and the decision once each end's enforcement
 * mode is applied. The C-VEN (flow decisions), the PCE (policy_check, draft
 * decisions) and the tests all call it, so they cannot disagree.
 *
 * Owns: verdict precedence (written once, below), the mode table of
 * POLICY.md "Deciding a flow", the order of decisions, and href ordering
 * ("the lowest href" wins among rules of one kind).
 * Pure: no I/O, no clock. Treats the compiled policy as immutable (parsed
 * address sets are cached per `AddressSet` object).
 * Must not import: anything with I/O. Semantics: shared/POLICY.md.
 */
import type { EnforcementMode } from './inventory-objects.js';
import { containsAddress, mergeIntervals, parseInterval, type IpInterval } from './ip.js';
import type { AddressSet, PolicyEntry, ServiceMatch, WorkloadPolicy } from './node-policy.js';

/** What the policy alone says about a connection. */
export type Verdict = 'override_deny' | 'allow' | 'deny' | 'no_rule';

/** What is reported for a flow once the ends' modes are applied. */
export type PolicyDecision = 'allowed' | 'potentially_blocked' | 'blocked' | 'unknown';

/**
 * Verdict precedence (POLICY.md "Deciding a flow"); the first that matches:
 *   1. `override_deny` — an override-deny rule matches;
 *   2. `allow` — an allow rule matches;
 *   3. `deny` — a deny rule matches;
 *   4. `no_rule` — nothing matches.
 * The code compares these numbers and nothing else.
 */
export const VERDICT_PRECEDENCE = {
  override_deny: 1,
  allow: 2,
  deny: 3,
  no_rule: 4,
} as const satisfies Record<Verdict, number>;

/** Decisions from most to least restrictive (POLICY.md): higher wins in `mostRestrictive`. */
export const DECISION_SEVERITY = {
  blocked: 4,
  unknown: 3,
  potentially_blocked: 2,
  allowed: 1,
} as const satisfies Record<PolicyDecision, number>;

/** One end of a flow as a peer: a workload href, an address, or both. */
export interface FlowPeer {
  href?: string;
  ip?: string;
}

/** The service of a flow: IANA protocol, destination port (TCP/UDP), ICMP type and code. */
export interface FlowService {
  proto: number;
  port?: number;
  icmp_type?: number;
  icmp_code?: number;
}

/** One end of a flow: who it is, its mode, and its compiled policy when it has one. */
export interface FlowEnd {
  peer: FlowPeer;
  mode: EnforcementMode | 'unmanaged';
  policy?: WorkloadPolicy;
}

/** Direction of a connection at one end: outbound at the consumer, inbound at the provider. */
export type FlowDirection = 'inbound' | 'outbound';

/**
 * The verdicts each mode blocks, per direction (POLICY.md's table):
 * full blocks everything but `allow` both ways; selective blocks
 * override-deny and deny inbound only; the rest block nothing.
 */
export const MODE_BLOCKS: Record<EnforcementMode | 'unmanaged', Record<FlowDirection, readonly Verdict[]>> = {
  full: { inbound: ['override_deny', 'deny', 'no_rule'], outbound: ['override_deny', 'deny', 'no_rule'] },
  selective: { inbound: ['override_deny', 'deny'], outbound: [] },
  visibility_only: { inbound: [], outbound: [] },
  idle: { inbound: [], outbound: [] },
  unmanaged: { inbound: [], outbound: [] },
};

/** Whether an end in `mode` blocks a connection with `verdict` in `direction`. */
export function blocksVerdict(
  mode: EnforcementMode | 'unmanaged',
  direction: FlowDirection,
  verdict: Verdict,
): boolean {
  return MODE_BLOCKS[mode][direction].includes(verdict);
}

// ---------------------------------------------------------------- hrefs

const isDigit = (c: number) => c >= 48 && c <= 57;

function allDigits(s: string, from: number, to: number): boolean {
  if (from === to) return false;
  for (let i = from; i < to; i += 1) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** Compare `a[i..ie)` with `b[j..je)`: numerically when both are digits, else by code unit. */
function compareSegments(a: string, i: number, ie: number, b: string, j: number, je: number): number {
  if (allDigits(a, i, ie) && allDigits(b, j, je)) {
    let x = i;
    let y = j;
    while (x < ie - 1 && a.charCodeAt(x) === 48) x += 1; // leading zeros
    while (y < je - 1 && b.charCodeAt(y) === 48) y += 1;
    if (ie - x !== je - y) return ie - x - (je - y);
    for (let k = 0; k < ie - x; k += 1) {
      const d = a.charCodeAt(x + k) - b.charCodeAt(y + k);
      if (d !== 0) return d;
    }
  }
  const n = Math.min(ie - i, je - j);
  for (let k = 0; k < n; k += 1) {
    const d = a.charCodeAt(i + k) - b.charCodeAt(j + k);
    if (d !== 0) return d;
  }
  return ie - i - (je - j);
}

/**
 * Total order of hrefs by path segment, numeric segments numerically:
 * `/orgs/1/rules/9` < `/orgs/1/rules/10`; a prefix sorts first; other
 * segments by UTF-16 code unit. Used for "the lowest href" and for every
 * sorted href list of the compiled policy. Allocates nothing.
 *
 * @example ['/x/10', '/x/9'].sort(compareHrefs) // ['/x/9', '/x/10']
 */
export function compareHrefs(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    const ia = a.indexOf('/', i);
    const jb = b.indexOf('/', j);
    const ie = ia < 0 ? a.length : ia;
    const je = jb < 0 ? b.length : jb;
    const c = compareSegments(a, i, ie, b, j, je);
    if (c !== 0) return c;
    if (ia < 0 || jb < 0) return ia < 0 && jb < 0 ? 0 : ia < 0 ? -1 : 1;
    i = ie + 1;
    j = je + 1;
  }
}

// ---------------------------------------------------------------- verdicts

/** Whether one service match covers the flow's service (absent fields match anything). */
export function serviceMatches(m: ServiceMatch, s: FlowService): boolean {
  if (m.proto === -1) return true;
  if (m.proto !== s.proto) return false;
  if (m.port !== undefined) {
    if (s.port === undefined || s.port < m.port || s.port > (m.to_port ?? m.port)) return false;
  }
  if (m.icmp_type !== undefined && s.icmp_type !== m.icmp_type) return false;
  if (m.icmp_code !== undefined && s.icmp_code !== m.icmp_code) return false;
  return true;
}

interface ParsedSet {
  hrefs: Set<string>;
  intervals: IpInterval[];
}
const parsedSets = new WeakMap<AddressSet, ParsedSet>();

function parsedSet(set: AddressSet): ParsedSet {
  let p = parsedSets.get(set);
  if (!p) {
    const intervals: IpInterval[] = [];
    for (const a of set.addresses) {
      const i = parseInterval(a);
      if (i) intervals.push(i);
    }
    p = { hrefs: new Set(set.workloads), intervals: mergeIntervals(intervals) };
    parsedSets.set(set, p);
  }
  return p;
}

/** Whether the peer is in the named set: by href among its workloads, or by address. */
export function peerInSet(set: AddressSet, peer: FlowPeer): boolean {
  const p = parsedSet(set);
  if (peer.href !== undefined && p.hrefs.has(peer.href)) return true;
  return peer.ip !== undefined && containsAddress(p.intervals, peer.ip);
}

/**
 * The verdict of one end's entries (inbound entries with the consumer as
 * peer, or outbound entries with the provider as peer) for a connection.
 * An entry matches when the peer is in any of its sets and a service
 * matches; the verdict is the matching action of highest precedence
 * (`VERDICT_PRECEDENCE`), and among rules of that kind the lowest href.
 * A set name missing from `sets` matches nothing.
 *
 * @example verdictOf(policy.inbound, nodePolicy.sets, { ip: '10.0.0.7' }, { proto: 6, port: 5432 })
 */
export function verdictOf(
  entries: readonly PolicyEntry[],
  sets: Record<string, AddressSet>,
  peer: FlowPeer,
  service: FlowService,
): { verdict: Verdict; rule: string | null } {
  let verdict: Verdict = 'no_rule';
  let rule: string | null = null;
  for (const e of entries) {
    const rank = VERDICT_PRECEDENCE[e.action];
    if (rank > VERDICT_PRECEDENCE[verdict]) continue;
    if (rank === VERDICT_PRECEDENCE[verdict] && rule !== null && compareHrefs(e.rule, rule) >= 0) continue;
    if (!e.services.some((m) => serviceMatches(m, service))) continue;
    if (!e.peers.some((name) => sets[name] !== undefined && peerInSet(sets[name], peer))) continue;
    verdict = e.action;
    rule = e.rule;
  }
  return { verdict, rule };
}

/**
 * Decide a connection from consumer to provider.
 *
 * The verdict comes from the provider's inbound entries when the provider has
 * a compiled policy, else from the consumer's outbound entries, else it is
 * `no_rule` (ours: a rule governs both ends, so either end's entries give the
 * same verdict for peers both know; the provider's are preferred because the
 * provider is where inbound rules are written). Each end then applies that
 * verdict in its own direction (`MODE_BLOCKS`): outbound at the consumer,
 * inbound at the provider. `blocked_by` names the consumer when both block,
 * since the packet is dropped there first.
 *
 * Decision: `blocked` if an end blocks; otherwise `allowed` when the verdict
 * is `allow`, else `potentially_blocked`. (`unknown` is for callers that do
 * not know an end's state; it never comes from here.)
 *
 * @example
 * const { decision, rules } = decideFlow({
 *   consumer: { peer: { href: pod.href, ip: '10.0.0.1' }, mode: 'full', policy: podPolicy },
 *   provider: { peer: { ip: '203.0.113.9' }, mode: 'unmanaged' },
 *   sets: nodePolicy.sets,
 *   service: { proto: 6, port: 443 },
 * });
 */
export function decideFlow(args: {
  consumer: FlowEnd;
  provider: FlowEnd;
  sets: Record<string, AddressSet>;
  service: FlowService;
}): { verdict: Verdict; rules: string[]; decision: PolicyDecision; blocked_by: 'consumer' | 'provider' | null } {
  const { consumer, provider, sets, service } = args;
  const { verdict, rule } = provider.policy
    ? verdictOf(provider.policy.inbound, sets, consumer.peer, service)
    : consumer.policy
      ? verdictOf(consumer.policy.outbound, sets, provider.peer, service)
      : { verdict: 'no_rule' as const, rule: null };
  const blocked_by = blocksVerdict(consumer.mode, 'outbound', verdict)
    ? 'consumer'
    : blocksVerdict(provider.mode, 'inbound', verdict)
      ? 'provider'
      : null;
  const decision: PolicyDecision =
    blocked_by !== null ? 'blocked' : verdict === 'allow' ? 'allowed' : 'potentially_blocked';
  return { verdict, rules: rule === null ? [] : [rule], decision, blocked_by };
}

/**
 * The more restrictive of two decisions (the two ends' reports of one flow):
 * blocked > unknown > potentially_blocked > allowed.
 *
 * @example mostRestrictive('allowed', 'potentially_blocked') // 'potentially_blocked'
 */
export function mostRestrictive(a: PolicyDecision, b: PolicyDecision): PolicyDecision {
  return DECISION_SEVERITY[b] > DECISION_SEVERITY[a] ? b : a;
}
