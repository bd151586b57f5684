// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The explorer's filters as the user picks them, and the Illumio query they
 * become. Picks of the same kind (and, for labels, the same key) OR; picks of
 * different kinds or keys AND, as in Illumio's explorer: `app=shop`,
 * `app=pay`, `env=prod` → (shop AND prod) OR (pay AND prod). Pure.
 */
import type { TrafficQuery } from '@bulkhead/pce/api';

export type ActorPick =
  | { kind: 'label'; href: string; key: string; value: string }
  | { kind: 'label_group'; href: string; name: string }
  | { kind: 'workload'; href: string; name: string }
  | { kind: 'ip_list'; href: string; name: string }
  | { kind: 'ip_address'; value: string };

export type Decision = 'allowed' | 'potentially_blocked' | 'blocked' | 'unknown';

export interface ExplorerFilters {
  srcInclude: ActorPick[];
  srcExclude: ActorPick[];
  dstInclude: ActorPick[];
  dstExclude: ActorPick[];
  /** `80`, `80/tcp`, `8000-8080/tcp`, `53/udp`, comma-separated. */
  services: string;
  excludeServices: string;
  decisions: Decision[];
  /** How far back, minutes. */
  sinceMinutes: number;
  maxResults: number;
}

export const emptyFilters = (): ExplorerFilters => ({
  srcInclude: [],
  srcExclude: [],
  dstInclude: [],
  dstExclude: [],
  services: '',
  excludeServices: '',
  decisions: [],
  sinceMinutes: 60,
  maxResults: 100_000,
});

type QActor = TrafficQuery['sources']['exclude'][number];

export function actorOf(p: ActorPick): QActor {
  switch (p.kind) {
    case 'label':
      return { label: { href: p.href } };
    case 'label_group':
      return { label_group: { href: p.href } };
    case 'workload':
      return { workload: { href: p.href } };
    case 'ip_list':
      return { ip_list: { href: p.href } };
    case 'ip_address':
      return { ip_address: { value: p.value } };
  }
}

export function pickText(p: ActorPick | Extract<Pick, { kind: 'virtual_service' }>): string {
  switch (p.kind) {
    case 'label':
      return `${p.key}: ${p.value}`;
    case 'ip_address':
      return p.value;
    default:
      return p.name;
  }
}

/** Include picks → Illumio's OR-of-ANDs (same kind/key OR, different AND); none: `[[]]`, everything. */
export function includeLists(picks: ActorPick[]): QActor[][] {
  if (!picks.length) return [[]];
  const groups = new Map<string, ActorPick[]>();
  for (const p of picks) {
    const g = p.kind === 'label' ? `label:${p.key}` : p.kind;
    groups.set(g, [...(groups.get(g) ?? []), p]);
  }
  let lists: QActor[][] = [[]];
  for (const members of groups.values()) lists = lists.flatMap((l) => members.map((m) => [...l, actorOf(m)]));
  return lists;
}

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

/** `80/tcp, 8000-8080, 53/udp` → service filters; throws naming the entry it cannot read. */
export function parseServices(text: string, field = 'services'): { port?: number; to_port?: number; proto?: number }[] {
  const out: { port?: number; to_port?: number; proto?: number }[] = [];
  for (const raw of text.split(',')) {
    const t = raw.trim().toLowerCase();
    if (!t) continue;
    if (t in PROTOS) {
      out.push({ proto: PROTOS[t]! });
      continue;
    }
    const m = /^(?:(\d{1,5})(?:-(\d{1,5}))?)?(?:\/(tcp|udp|icmp|icmpv6))?$/.exec(t);
    if (!m || (!m[1] && !m[3]))
      throw new Error(`${field}: cannot read "${raw.trim()}"; write 80, 80/tcp, 8000-8080/tcp or udp`);
    const port = m[1] !== undefined ? Number(m[1]) : undefined;
    const to = m[2] !== undefined ? Number(m[2]) : undefined;
    if ((port ?? 0) > 65535 || (to ?? 0) > 65535) throw new Error(`${field}: "${raw.trim()}": ports go up to 65535`);
    if (to !== undefined && port !== undefined && to < port)
      throw new Error(`${field}: "${raw.trim()}": the range ends before it starts`);
    out.push({
      ...(port !== undefined ? { port } : {}),
      ...(to !== undefined ? { to_port: to } : {}),
      ...(m[3] ? { proto: PROTOS[m[3]]! } : {}),
    });
  }
  return out;
}

export function buildQuery(f: ExplorerFilters, now = Date.now()): TrafficQuery {
  if (!(f.sinceMinutes > 0)) throw new Error('time range: give a number of minutes above 0');
  if (!(f.maxResults >= 1 && f.maxResults <= 200_000)) throw new Error('max results: between 1 and 200,000');
  return {
    query_name: 'console',
    start_date: new Date(now - f.sinceMinutes * 60_000).toISOString(),
    end_date: new Date(now + 60_000).toISOString(),
    sources: { include: includeLists(f.srcInclude), exclude: f.srcExclude.map(actorOf) },
    destinations: { include: includeLists(f.dstInclude), exclude: f.dstExclude.map(actorOf) },
    services: { include: parseServices(f.services), exclude: parseServices(f.excludeServices, 'excluded services') },
    policy_decisions: f.decisions,
    max_results: f.maxResults,
  };
}

/** `6` → `TCP`, as users read it. */
export function protoName(proto: number): string {
  return ({ 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMPv6' } as Record<number, string>)[proto] ?? `proto ${proto}`;
}

export function decisionText(d: string | undefined): string {
  return d === 'potentially_blocked' ? 'potentially blocked' : (d ?? '—');
}

/** A pick for a rule side: any actor, a virtual service, or every workload of the scope. */
export type Pick = ActorPick | { kind: 'ams' } | { kind: 'virtual_service'; href: string; name: string };
