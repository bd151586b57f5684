// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Views of explorer results shared by the PCE and the console (online and
 * offline on a snapshot): the app-group map and the CSV export. Pure: no I/O.
 */
import { toDraftHref } from './policy-objects.js';
import type { TrafficFlow, TrafficQuery } from './traffic.js';

/** Flows as CSV (one header row; labels as `key=value;...`). */
export function flowsCsv(flows: TrafficFlow[]): string {
  const esc = (v: unknown): string => {
    const t = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const labels = (w: TrafficFlow['src']['workload']): string =>
    w ? w.labels.map((l) => `${l.key}=${l.value}`).join(';') : '';
  const head =
    'src_ip,src_workload,src_namespace,src_labels,dst_ip,dst_workload,dst_namespace,dst_labels,port,proto,policy_decision,rule,num_connections,first_detected,last_detected';
  return (
    [
      head,
      ...flows.map((f) =>
        [
          f.src.ip,
          f.src.workload?.name,
          f.src.workload?.namespace,
          labels(f.src.workload),
          f.dst.ip,
          f.dst.workload?.name,
          f.dst.workload?.namespace,
          labels(f.dst.workload),
          f.service.port,
          f.service.proto,
          f.policy_decision,
          f.rule?.href,
          f.num_connections,
          f.timestamp_range.first_detected,
          f.timestamp_range.last_detected,
        ]
          .map(esc)
          .join(','),
      ),
    ].join('\n') + '\n'
  );
}

export interface AppGroupMap {
  keys: string[];
  nodes: { id: string; labels: Record<string, string>; workloads: number }[];
  edges: {
    source: string;
    target: string;
    num_connections: number;
    bytes: number;
    ports: { port: number; proto: number }[];
    decisions: Record<string, number>;
  }[];
}

/** The app group of one end of a flow: by its workload's labels of `keys`, or by its address. */
export function appGroupOf(end: TrafficFlow['src'], keys: string[]): { id: string; labels: Record<string, string> } {
  const w = end.workload;
  if (!w) return { id: `ip=${end.ip}`, labels: { ip: end.ip } };
  const labels: Record<string, string> = {};
  for (const k of keys) labels[k] = w.labels.find((l) => l.key === k)?.value ?? '';
  return { id: keys.map((k) => `${k}=${labels[k] || '-'}`).join(','), labels };
}

/** Group flows into app groups (by label keys; ends without a workload are grouped by address). */
export function appGroups(flows: TrafficFlow[], keys: string[]): AppGroupMap {
  const nodes = new Map<string, { id: string; labels: Record<string, string>; workloads: Set<string> }>();
  const edges = new Map<string, AppGroupMap['edges'][number] & { portSet: Set<string> }>();
  const groupOf = (end: TrafficFlow['src']): string => {
    const { id, labels } = appGroupOf(end, keys);
    let n = nodes.get(id);
    if (!n) nodes.set(id, (n = { id, labels, workloads: new Set() }));
    if (end.workload) n.workloads.add(end.workload.href);
    return id;
  };
  for (const f of flows) {
    const source = groupOf(f.src);
    const target = groupOf(f.dst);
    const key = `${source}>${target}`;
    let e = edges.get(key);
    if (!e)
      edges.set(
        key,
        (e = { source, target, num_connections: 0, bytes: 0, ports: [], decisions: {}, portSet: new Set() }),
      );
    e.num_connections += f.num_connections;
    e.bytes += f.dst_bi + f.dst_bo;
    e.decisions[f.policy_decision] = (e.decisions[f.policy_decision] ?? 0) + f.num_connections;
    const pk = `${f.service.proto}/${f.service.port}`;
    if (!e.portSet.has(pk)) {
      e.portSet.add(pk);
      e.ports.push({ port: f.service.port, proto: f.service.proto });
    }
  }
  return {
    keys,
    nodes: [...nodes.values()]
      .map((n) => ({ id: n.id, labels: n.labels, workloads: n.workloads.size }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    edges: [...edges.values()].map(({ portSet: _p, ...e }) => ({
      ...e,
      ports: e.ports.sort((a, b) => a.proto - b.proto || a.port - b.port),
    })),
  };
}

type QueryActor = TrafficQuery['sources']['exclude'][number];

/** What actors stand for, from the active policy: label-group members (flattened) and IP-list tests, by draft href. */
export interface ActorContext {
  groups: ReadonlyMap<string, ReadonlySet<string>>;
  ipLists: ReadonlyMap<string, (ip: string) => boolean>;
}
const NO_CONTEXT: ActorContext = { groups: new Map(), ipLists: new Map() };

function actorMatches(a: QueryActor, end: TrafficFlow['src'], ctx: ActorContext): boolean {
  const w = end.workload;
  if (a.ip_address) return a.ip_address.value === end.ip;
  if (a.workload) return w?.href === a.workload.href;
  if (a.label) return !!w?.labels.some((l) => l.href === a.label!.href);
  if (a.label_group) {
    const members = ctx.groups.get(toDraftHref(a.label_group.href));
    return !!members && !!w?.labels.some((l) => members.has(l.href));
  }
  if (a.ip_list) return ctx.ipLists.get(toDraftHref(a.ip_list.href))?.(end.ip) ?? false;
  return true;
}

function sideMatches(side: TrafficQuery['sources'], end: TrafficFlow['src'], ctx: ActorContext): boolean {
  const inc = side.include.length === 0 || side.include.some((and) => and.every((a) => actorMatches(a, end, ctx)));
  return inc && !side.exclude.some((a) => actorMatches(a, end, ctx));
}

/**
 * Whether a flow answers an explorer query (Illumio's semantics: an include
 * list ORs inner lists that AND their actors; `[]`/`[[]]` match everything;
 * empty services or decisions: no filter). Time range included.
 */
export function flowMatches(q: TrafficQuery, f: TrafficFlow, ctx: ActorContext = NO_CONTEXT): boolean {
  if (f.timestamp_range.last_detected < q.start_date || f.timestamp_range.first_detected > q.end_date) return false;
  const decisions = q.policy_decisions ?? [];
  if (decisions.length && !decisions.includes(f.policy_decision as never)) return false;
  const { port, proto } = f.service;
  const svcMatch = (svc: { port?: number; to_port?: number; proto?: number }): boolean =>
    (svc.proto === undefined || svc.proto === proto) &&
    (svc.port === undefined ||
      (svc.to_port === undefined ? port === svc.port : port >= svc.port && port <= svc.to_port));
  const svc = q.services;
  if (svc && svc.include.length && !svc.include.some(svcMatch)) return false;
  if (svc && svc.exclude.some(svcMatch)) return false;
  const s = sideMatches(q.sources, f.src, ctx);
  const d = sideMatches(q.destinations, f.dst, ctx);
  return q.sources_destinations_query_op === 'or' ? s || d : s && d;
}
