// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Drained probe records → the node's flow aggregates (`AgentFlow`): one per
 * (source, destination, destination port, protocol, decision) per drain.
 * Pure: the caller passes what the probe drained, which addresses and
 * namespaces are local, and the decision function (the one evaluator over
 * the policy the agent enforces).
 *
 * Orientation: a record's packets go one way; the connection's destination
 * is the end with the service port. TCP/UDP: the lower port is the service
 * (Linux picks ephemeral ports from 32768 up), ties go to the record's own
 * direction; ICMP: echo requests (type 8, 128) point at the destination.
 * Connections: for TCP, the connections the probe saw the initiator open in
 * this drain (`FlowRecord.connections`: its SYNs, by sequence number, so a
 * client port reused within one drain counts each connection; issue 7);
 * otherwise distinct source ports (ICMP: echo ids) per aggregate.
 * Drops (netfilter) in local namespaces are blocked flows.
 * Visibility: each local end reports only what its visibility level lets it
 * (`reportsFlow`); a flow between two local ends is kept when either may
 * report it, and names that end as `reported_by` (the source first).
 */
import { reportsFlow, type AgentFlow, type PolicyDecision, type VisibilityLevel } from '@bulkhead/pce/api';
import type { DropRecord, FlowRecord } from '../probe/abi.js';

export interface Decide {
  (src: string, dst: string, port: number, proto: number): { decision: PolicyDecision; rule?: string } | null;
}

interface Acc {
  flow: AgentFlow;
  /** Source ports (ICMP: echo ids) of connections counted by port: drops, UDP, ICMP. */
  ports: Set<number>;
  /** TCP connections the probe counted (`FlowRecord.connections`). */
  opened: number;
}

function oriented(r: { saddr: string; daddr: string; sport: number; dport: number; proto: number }): {
  src: string;
  dst: string;
  port: number;
  sport: number;
} {
  if (r.proto === 1 || r.proto === 58) {
    const type = r.dport >> 8;
    const reply = r.proto === 1 ? type === 0 : type === 129;
    return reply
      ? { src: r.daddr, dst: r.saddr, port: (r.proto === 1 ? 8 : 128) << 8, sport: r.sport }
      : { src: r.saddr, dst: r.daddr, port: r.dport, sport: r.sport };
  }
  if (r.dport <= r.sport || r.sport === 0) return { src: r.saddr, dst: r.daddr, port: r.dport, sport: r.sport };
  return { src: r.daddr, dst: r.saddr, port: r.sport, sport: r.dport };
}

export function aggregate(args: {
  flows: FlowRecord[];
  drops: DropRecord[];
  /** Addresses of this node's enforcing pods and the node itself. */
  localIps: ReadonlySet<string>;
  /**
   * Addresses of the pods whose veths the probe is attached to (a subset of
   * `localIps`). A connection between two of them passes both veths, so its
   * SYN is recorded twice; only the source veth's record counts it.
   * Absent: none.
   */
  probedIps?: ReadonlySet<string>;
  /** Namespace inodes of this node's pods and its own: drops elsewhere are another node's. */
  localNetns: ReadonlySet<number>;
  decide: Decide;
  /**
   * The visibility level of the local workload with this address (from the
   * policy the agent enforces); undefined (a local end with no policy of its
   * own, such as an idle node): `flow_summary`. Absent: every end reports all.
   */
  visibilityOf?: (ip: string) => VisibilityLevel | undefined;
  /** Wall-clock ms for a CLOCK_MONOTONIC ns value. */
  wallOf: (monoNs: bigint) => number;
}): AgentFlow[] {
  const out = new Map<string, Acc>();
  const add = (
    r: { saddr: string; daddr: string; sport: number; dport: number; proto: number; connections?: number },
    blocked: boolean,
    bytes: number,
    packets: number,
    first: number,
    last: number,
  ): void => {
    const o = oriented(r);
    const srcLocal = args.localIps.has(o.src);
    const dstLocal = args.localIps.has(o.dst);
    if (!srcLocal && !dstLocal) return;
    const d = args.decide(o.src, o.dst, o.port, r.proto);
    if (!d) return;
    const decision: PolicyDecision = blocked ? 'blocked' : d.decision;
    const reports = (ip: string): boolean => reportsFlow(args.visibilityOf?.(ip) ?? 'flow_summary', decision);
    const bySource = srcLocal && reports(o.src);
    if (!bySource && !(dstLocal && reports(o.dst))) return;
    const key = `${o.src}|${o.dst}|${o.port}|${r.proto}|${decision}`;
    let acc = out.get(key);
    if (!acc) {
      acc = {
        flow: {
          src_ip: o.src,
          dst_ip: o.dst,
          port: o.port,
          proto: r.proto,
          decision,
          ...(d.rule ? { rule: d.rule } : {}),
          reported_by: bySource ? 'source' : 'destination',
          num_connections: 0,
          bytes: 0,
          packets: 0,
          first_seen: new Date(first).toISOString(),
          last_seen: new Date(last).toISOString(),
        },
        ports: new Set(),
        opened: 0,
      };
      out.set(key, acc);
    }
    // TCP: a connection counts in the drain that saw its SYN leave the initiator, so one whose
    // packets straddle two drains counts once; the probe counts the SYNs (a reused port counts each).
    // A source pod the probe watches: its own veth's record alone (the destination veth's copy of the same SYN
    // may fall in another drain, and would count the connection a second time).
    // Drops (no record of connections) and other protocols: by source port.
    if (r.proto !== 6 || r.connections === undefined) acc.ports.add(o.sport);
    else if (o.src === r.saddr && (!args.probedIps?.has(o.src) || (r as Partial<FlowRecord>).direction !== 'to_pod'))
      acc.opened += r.connections;
    acc.flow.bytes += bytes;
    acc.flow.packets += packets;
    const f = new Date(first).toISOString();
    const l = new Date(last).toISOString();
    if (f < acc.flow.first_seen) acc.flow.first_seen = f;
    if (l > acc.flow.last_seen) acc.flow.last_seen = l;
  };
  for (const r of args.flows) add(r, false, r.bytes, r.packets, args.wallOf(r.firstSeenNs), args.wallOf(r.lastSeenNs));
  for (const d of args.drops) {
    if (!args.localNetns.has(d.netnsIno)) continue;
    const t = args.wallOf(d.tsNs);
    add(d, true, d.length, 1, t, t);
  }
  return [...out.values()].map((a) => ({ ...a.flow, num_connections: a.ports.size + a.opened }));
}
