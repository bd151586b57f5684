// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * How `bulkhead probe` prints a flow or a drop: one JSON object per line
 * (`--json`) or one line of text.
 *
 * Owns: the JSON line shape (snake_case, ports and counts as JSON numbers,
 * times as ISO 8601 UTC). Fields are never renamed or reused; a new field
 * is added. ICMP has no ports: its lines carry `icmp: {type, code, id}`.
 * Pure: the wall clock comes in as a function.
 */
import {
  DROP_F_NS_FROM_DEV,
  DROP_F_NS_FROM_SK,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  protocolName,
  tcpFlagNames,
  type DropRecord,
} from './abi.js';
import type { FlowTotals } from './flow-table.js';

/** CLOCK_MONOTONIC ns → ISO 8601 wall time. */
export type ToWallClock = (monotonicNs: bigint) => string;

/** A clock converter anchored at one (wall ms, monotonic ns) pair read together. */
export function wallClock(wallMs: number, monotonicNowNs: bigint): ToWallClock {
  return (ns) => new Date(wallMs + Number(ns - monotonicNowNs) / 1e6).toISOString();
}

type Endpoint = { ip: string; port?: number };

function isIcmp(proto: number): boolean {
  return proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6;
}

function endpoints(t: { proto: number; saddr: string; sport: number; daddr: string; dport: number }): {
  source: Endpoint;
  destination: Endpoint;
  icmp?: { type: number; code: number; id: number };
} {
  if (isIcmp(t.proto)) {
    return {
      source: { ip: t.saddr },
      destination: { ip: t.daddr },
      icmp: { type: t.dport >> 8, code: t.dport & 0xff, id: t.sport },
    };
  }
  return { source: { ip: t.saddr, port: t.sport }, destination: { ip: t.daddr, port: t.dport } };
}

/** A flow's JSON line object: counts since the probe attached. */
export function flowJson(t: FlowTotals, ifname: string, toWall: ToWallClock): Record<string, unknown> {
  return {
    kind: 'flow',
    interface: ifname,
    direction: t.direction,
    protocol: protocolName(t.proto),
    ...endpoints(t),
    packets: t.packets,
    bytes: t.bytes,
    tcp_flags: tcpFlagNames(t.tcpFlags),
    first_seen: toWall(t.firstSeenNs),
    last_seen: toWall(t.lastSeenNs),
  };
}

/** A drop's JSON line object. `namespace` says whose: the probe's side or the veth's peer. */
export function dropJson(d: DropRecord, namespace: 'host' | 'peer', toWall: ToWallClock): Record<string, unknown> {
  return {
    kind: 'drop',
    namespace,
    netns_inode: d.netnsIno,
    hook_side: d.flags & DROP_F_NS_FROM_DEV ? 'input' : d.flags & DROP_F_NS_FROM_SK ? 'output' : 'unknown',
    ifindex: d.ifindex,
    protocol: protocolName(d.proto),
    ...endpoints(d),
    length: d.length,
    reason: 'netfilter_drop',
    time: toWall(d.tsNs),
  };
}

function hostPort(e: Endpoint): string {
  const ip = e.ip.includes(':') ? `[${e.ip}]` : e.ip;
  return e.port === undefined ? ip : `${ip}:${e.port}`;
}

/** One line of text for a flow. */
export function flowText(t: FlowTotals, ifname: string): string {
  const e = endpoints(t);
  const icmp = e.icmp ? ` type ${e.icmp.type} code ${e.icmp.code} id ${e.icmp.id}` : '';
  const flags = t.tcpFlags ? ` [${tcpFlagNames(t.tcpFlags).join(',')}]` : '';
  return (
    `${ifname} ${t.direction.padEnd(8)} ${protocolName(t.proto).padEnd(6)} ` +
    `${hostPort(e.source)} -> ${hostPort(e.destination)}${icmp}  ${t.packets} pkts ${t.bytes} bytes${flags}`
  );
}

/** One line of text for a drop. */
export function dropText(d: DropRecord, namespace: 'host' | 'peer'): string {
  const e = endpoints(d);
  const icmp = e.icmp ? ` type ${e.icmp.type} code ${e.icmp.code}` : '';
  return `DROP (${namespace} netns ${d.netnsIno}) ${protocolName(d.proto)} ${hostPort(e.source)} -> ${hostPort(e.destination)}${icmp}  netfilter`;
}
