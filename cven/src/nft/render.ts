// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `PodTable` → nft script for `table inet bulkhead` (pure; unit-tested
 * without root). Two forms, each one atomic transaction (`nft -f`):
 * - full replace: create-if-missing, delete, then declare the whole table,
 *   so there is never a moment with no table or half a table;
 * - update: when the previous table (same mode) is known, only the sets
 *   whose elements changed are flushed and refilled, and only the chains
 *   whose rules changed are flushed and rewritten.
 *
 * Static chains, dynamic sets (knftables): a peer starting or stopping
 * changes set elements only. Every rule carries its policy rule's href in
 * its comment. No counters or dynamic flags, so the table reads back
 * exactly as written until someone changes it (the tamper check relies on it).
 * Must not import: node:* (pure).
 */
import type { ServiceMatch } from '@bulkhead/pce/api';
import type { NftRule, NftSet, PodTable } from '../policy/desired.js';

export const TABLE = 'inet bulkhead';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp' };

function quote(comment: string): string {
  // nft comments: at most 128 bytes, double-quoted, no quotes inside.
  return `"${comment.replace(/["\\\n]/g, '').slice(0, 128)}"`;
}

function renderService(s: ServiceMatch | null): string {
  if (!s) return '';
  const proto = PROTO_NAMES[s.proto] ?? String(s.proto);
  if (s.proto === 1 || s.proto === 58) {
    const kw = s.proto === 1 ? 'icmp' : 'icmpv6';
    let out = `meta l4proto ${proto}`;
    if (s.icmp_type !== undefined) out += ` ${kw} type ${s.icmp_type}`;
    if (s.icmp_code !== undefined) out += ` ${kw} code ${s.icmp_code}`;
    return out;
  }
  let out = `meta l4proto ${proto}`;
  if (s.port !== undefined) out += ` th dport ${s.to_port !== undefined ? `${s.port}-${s.to_port}` : s.port}`;
  return out;
}

/** One rule's text (no `add rule` prefix). `dir` decides which address is the peer's. */
export function renderRule(r: NftRule, dir: 'inbound' | 'outbound'): string {
  const parts: string[] = [];
  const addr = dir === 'inbound' ? 'saddr' : 'daddr';
  const fam = r.family === 6 ? 'ip6' : 'ip';
  if (r.peer && 'set' in r.peer) parts.push(`${fam} ${addr} @${r.peer.set}`);
  else if (r.peer) parts.push(`${fam} ${addr} { ${r.peer.addresses.join(', ')} }`);
  else if (r.family !== null) parts.push(`meta nfproto ${r.family === 6 ? 'ipv6' : 'ipv4'}`);
  const svc = renderService(r.service);
  if (svc) parts.push(svc);
  parts.push(r.verdict, `comment ${quote(r.comment)}`);
  return parts.join(' ');
}

/** Rules every chain starts with, whatever the policy (stateful, loopback, IPv6 neighbour discovery). */
function preamble(dir: 'inbound' | 'outbound', t: PodTable): string[] {
  const lo = dir === 'inbound' ? 'iif' : 'oif';
  const lines = [
    `ct state established,related accept comment "implicit: replies and related traffic"`,
    `${lo} "lo" accept comment "implicit: loopback"`,
    `meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept comment "implicit: IPv6 neighbour discovery"`,
  ];
  if (t.mode === 'full') lines.splice(1, 0, `ct state invalid drop comment "implicit: invalid packets"`);
  return lines;
}

function chainHeader(dir: 'inbound' | 'outbound', t: PodTable): string {
  const hook = dir === 'inbound' ? 'input' : 'output';
  const policy = dir === 'inbound' ? t.inboundPolicy : t.outboundPolicy;
  return `type filter hook ${hook} priority filter; policy ${policy};`;
}

function chainRules(dir: 'inbound' | 'outbound', t: PodTable): string[] {
  return [...preamble(dir, t), ...(dir === 'inbound' ? t.inbound : t.outbound).map((r) => renderRule(r, dir))];
}

function setDecl(s: NftSet): string {
  const type = s.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const elems = s.elements.length ? ` elements = { ${s.elements.join(', ')} };` : '';
  return `set ${s.name} { type ${type}; flags interval;${elems} }`;
}

/** The whole table, replacing whatever is there, in one transaction. */
export function renderFullReplace(t: PodTable): string {
  const lines = [`table ${TABLE} {}`, `delete table ${TABLE}`, `table ${TABLE} {`];
  for (const s of t.sets) lines.push(`  ${setDecl(s)}`);
  for (const dir of ['inbound', 'outbound'] as const) {
    lines.push(`  chain ${dir} {`, `    ${chainHeader(dir, t)}`);
    for (const r of chainRules(dir, t)) lines.push(`    ${r}`);
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Remove the table (idle mode, a pod leaving enforcement, unpair). Harmless when absent. */
export function renderDelete(): string {
  return `table ${TABLE} {}\ndelete table ${TABLE}\n`;
}

/**
 * The smallest transaction that turns `prev` (as applied) into `next`, or
 * null when nothing changed. Mode or chain-policy changes replace the table.
 */
export function renderUpdate(prev: PodTable, next: PodTable): string | null {
  if (
    prev.mode !== next.mode ||
    prev.inboundPolicy !== next.inboundPolicy ||
    prev.outboundPolicy !== next.outboundPolicy
  )
    return renderFullReplace(next);
  const lines: string[] = [];
  const before = new Map(prev.sets.map((s) => [s.name, s]));
  const after = new Map(next.sets.map((s) => [s.name, s]));
  for (const s of next.sets) {
    const old = before.get(s.name);
    if (!old) lines.push(`add ${setDecl(s).replace(/^set /, `set ${TABLE} `)}`);
    else if (old.elements.join() !== s.elements.join()) {
      lines.push(`flush set ${TABLE} ${s.name}`);
      if (s.elements.length) lines.push(`add element ${TABLE} ${s.name} { ${s.elements.join(', ')} }`);
    }
  }
  for (const dir of ['inbound', 'outbound'] as const) {
    const a = chainRules(dir, prev);
    const b = chainRules(dir, next);
    if (a.join('\n') === b.join('\n')) continue;
    lines.push(`flush chain ${TABLE} ${dir}`);
    for (const r of b) lines.push(`add rule ${TABLE} ${dir} ${r}`);
  }
  // Sets no rule uses any more go last, after the chains stopped naming them.
  for (const name of before.keys()) if (!after.has(name)) lines.push(`delete set ${TABLE} ${name}`);
  return lines.length ? lines.join('\n') + '\n' : null;
}

/** Rules the table holds (for the agent's `firewall_rule_count`). */
export function ruleCount(t: PodTable): number {
  return chainRules('inbound', t).length + chainRules('outbound', t).length;
}
