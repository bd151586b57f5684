// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The probe's record layouts as TypeScript reads them, and their decoders.
 *
 * Owns: the byte layout of every struct libbulkhead writes into our
 * buffers, and the typed objects they decode to.
 * Twin of: bpf/include/bulkhead/flow.h, drop.h, stats.h, probe.h. Keep them
 * aligned: abi.test.ts compares every size and offset here with what the
 * built libbulkhead reports (`bh_abi_sizeof`/`bh_abi_offsetof`).
 * Must not import: koffi (ffi.ts alone loads the library), node:* I/O.
 *
 * Byte order: addresses and ports are network order in the records and
 * decode to strings and numbers; counters and times are host order
 * (little-endian on every machine we build for).
 */

/** A struct layout: its size and each field's offset and size, in bytes. */
export interface Layout {
  readonly name: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, { readonly offset: number; readonly size: number }>>;
}

/** struct bh_flow_key (flow.h). */
export const FLOW_KEY = {
  name: 'bh_flow_key',
  size: 44,
  fields: {
    saddr: { offset: 0, size: 16 },
    daddr: { offset: 16, size: 16 },
    sport: { offset: 32, size: 2 },
    dport: { offset: 34, size: 2 },
    ifindex: { offset: 36, size: 4 },
    proto: { offset: 40, size: 1 },
    dir: { offset: 41, size: 1 },
    pad: { offset: 42, size: 2 },
  },
} as const satisfies Layout;

/** struct bh_flow_stats (flow.h). */
export const FLOW_STATS = {
  name: 'bh_flow_stats',
  size: 48,
  fields: {
    packets: { offset: 0, size: 8 },
    bytes: { offset: 8, size: 8 },
    first_seen_ns: { offset: 16, size: 8 },
    last_seen_ns: { offset: 24, size: 8 },
    tcp_flags: { offset: 32, size: 4 },
    conns: { offset: 36, size: 4 },
    syn_seq: { offset: 40, size: 4 },
    pad: { offset: 44, size: 4 },
  },
} as const satisfies Layout;

/** struct bh_flow_record (flow.h): what bh_probe_drain_flows() writes. */
export const FLOW_RECORD = {
  name: 'bh_flow_record',
  size: 96,
  fields: {
    key: { offset: 0, size: FLOW_KEY.size },
    pad: { offset: 44, size: 4 },
    stats: { offset: 48, size: FLOW_STATS.size },
  },
} as const satisfies Layout;

/** struct bh_drop_record (drop.h): what bh_probe_drain_drops() writes. */
export const DROP_RECORD = {
  name: 'bh_drop_record',
  size: 64,
  fields: {
    saddr: { offset: 0, size: 16 },
    daddr: { offset: 16, size: 16 },
    sport: { offset: 32, size: 2 },
    dport: { offset: 34, size: 2 },
    proto: { offset: 36, size: 1 },
    flags: { offset: 37, size: 1 },
    pad: { offset: 38, size: 2 },
    netns_ino: { offset: 40, size: 4 },
    ifindex: { offset: 44, size: 4 },
    reason: { offset: 48, size: 4 },
    len: { offset: 52, size: 4 },
    ts_ns: { offset: 56, size: 8 },
  },
} as const satisfies Layout;

/** struct bh_probe_counters (stats.h): what bh_probe_read_counters() writes. */
export const PROBE_COUNTERS = {
  name: 'bh_probe_counters',
  size: 72,
  fields: {
    flows_created: { offset: 0, size: 8 },
    flows_drained: { offset: 8, size: 8 },
    flows_evicted: { offset: 16, size: 8 },
    flows_full: { offset: 24, size: 8 },
    ring_full: { offset: 32, size: 8 },
    unparsed: { offset: 40, size: 8 },
    non_ip: { offset: 48, size: 8 },
    drops: { offset: 56, size: 8 },
    drops_no_tuple: { offset: 64, size: 8 },
  },
} as const satisfies Layout;

/** struct bh_prog_stats (stats.h): what bh_probe_read_prog_stats() writes. */
export const PROG_STATS = {
  name: 'bh_prog_stats',
  size: 48,
  fields: {
    from_pod_runs: { offset: 0, size: 8 },
    from_pod_ns: { offset: 8, size: 8 },
    to_pod_runs: { offset: 16, size: 8 },
    to_pod_ns: { offset: 24, size: 8 },
    nf_drop_runs: { offset: 32, size: 8 },
    nf_drop_ns: { offset: 40, size: 8 },
  },
} as const satisfies Layout;

/** struct bh_probe_opts (probe.h): what bh_probe_open() reads. */
export const PROBE_OPTS = {
  name: 'bh_probe_opts',
  size: 8,
  fields: {
    flows_max_entries: { offset: 0, size: 4 },
    ring_bytes: { offset: 4, size: 4 },
  },
} as const satisfies Layout;

/** Every layout shared with C, for the layout test. */
export const LAYOUTS: readonly Layout[] = [
  FLOW_KEY,
  FLOW_STATS,
  FLOW_RECORD,
  DROP_RECORD,
  PROBE_COUNTERS,
  PROG_STATS,
  PROBE_OPTS,
];

/** enum bh_dir (flow.h); 0 = unknown. */
export const DIRECTIONS = ['unknown', 'from_pod', 'to_pod'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** enum bh_tcp_flag (flow.h), in bit order. */
export const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
export type TcpFlag = (typeof TCP_FLAGS)[number];

/** enum bh_drop_flag (drop.h). */
export const DROP_F_NS_FROM_DEV = 0x01;
export const DROP_F_NS_FROM_SK = 0x02;
export const DROP_F_NO_TUPLE = 0x04;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** The 5-tuple of a flow or drop, decoded. */
export interface Tuple {
  /** Dotted IPv4 for IPv4-mapped addresses, compressed IPv6 otherwise. */
  saddr: string;
  daddr: string;
  /** Host order. ICMP: the echo identifier (0 for other types). */
  sport: number;
  /** Host order. ICMP: `type << 8 | code`. */
  dport: number;
  /** IPPROTO_* number. */
  proto: number;
}

/** One drained struct bh_flow_record: counts since the flow's previous drain. */
export interface FlowRecord extends Tuple {
  /** The host-side veth the packets crossed. */
  ifindex: number;
  direction: Direction;
  packets: number;
  /** L2 bytes on the wire (Ethernet header included). */
  bytes: number;
  /** CLOCK_MONOTONIC_COARSE nanoseconds (1-4 ms steps; same timebase as CLOCK_MONOTONIC). */
  firstSeenNs: bigint;
  lastSeenNs: bigint;
  /** OR of the TCP flag bits seen (enum bh_tcp_flag). */
  tcpFlags: number;
  /**
   * TCP connections this record opened: the initiator's SYNs (without ACK) of
   * distinct sequence numbers, so two connections of one reused 5-tuple count
   * two and a retransmitted SYN counts once. 0 unless TCP.
   */
  connections: number;
}

/** One struct bh_drop_record: a packet netfilter dropped. */
export interface DropRecord extends Tuple {
  /** Inode of the network namespace the drop happened in; 0 when unknown. */
  netnsIno: number;
  /** The device in that namespace; 0 on the output hook. */
  ifindex: number;
  flags: number;
  /** enum skb_drop_reason (the kernel's number). */
  reason: number;
  /** L3 bytes of the dropped packet. */
  length: number;
  /** CLOCK_MONOTONIC nanoseconds. */
  tsNs: bigint;
}

/** struct bh_probe_counters, decoded. The loss fields are flowsEvicted, flowsFull, ringFull, unparsed. */
export interface ProbeCounters {
  flowsCreated: number;
  flowsDrained: number;
  flowsEvicted: number;
  flowsFull: number;
  ringFull: number;
  unparsed: number;
  nonIp: number;
  drops: number;
  dropsNoTuple: number;
}

/** struct bh_prog_stats, decoded: what each program has cost since run stats were enabled. */
export interface ProgStats {
  fromPod: { runs: number; ns: number };
  toPod: { runs: number; ns: number };
  nfDrop: { runs: number; ns: number };
}

/** Options of bh_probe_open(); 0 or absent means the default (bpf/README.md "Map sizes"). */
export interface ProbeOptions {
  flowsMaxEntries?: number;
  ringBytes?: number;
}

/** Formatted IPv4 addresses by value: a node sees few distinct ones, and formatting is the costly part of a drain. */
const v4Names = new Map<number, string>();
const V4_NAMES_MAX = 65_536;

/** Format 16 address bytes: dotted IPv4 when IPv4-mapped, else RFC 5952 IPv6. */
export function formatAddress(b: Uint8Array, offset = 0): string {
  // Hot path (every drained record): test the ::ffff: prefix without allocating.
  let mapped = b[offset + 10] === 0xff && b[offset + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = b[offset + i] === 0;
  if (mapped) {
    const a = b[offset + 12] ?? 0;
    const c = b[offset + 13] ?? 0;
    const d = b[offset + 14] ?? 0;
    const e = b[offset + 15] ?? 0;
    const value = a * 0x1000000 + ((c << 16) | (d << 8) | e);
    let name = v4Names.get(value);
    if (name === undefined) {
      if (v4Names.size >= V4_NAMES_MAX) v4Names.clear();
      name = `${a}.${c}.${d}.${e}`;
      v4Names.set(value, name);
    }
    return name;
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[offset + i] ?? 0) << 8) | (b[offset + i + 1] ?? 0));
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Names of the TCP flag bits set in `bits`, in bit order. */
export function tcpFlagNames(bits: number): TcpFlag[] {
  return TCP_FLAGS.filter((_, i) => (bits & (1 << i)) !== 0);
}

/** Protocol name for display and JSON (`tcp`, `udp`, `icmp`, `icmpv6`, else the number). */
export function protocolName(proto: number): string {
  switch (proto) {
    case IPPROTO_TCP:
      return 'tcp';
    case IPPROTO_UDP:
      return 'udp';
    case IPPROTO_ICMP:
      return 'icmp';
    case IPPROTO_ICMPV6:
      return 'icmpv6';
    default:
      return String(proto);
  }
}

/**
 * A little-endian u64 counter as a Number, without a BigInt allocation (the
 * hot path of a drain). Exact below 2^53: counters between two drains stay
 * far below it.
 */
function u64Number(dv: DataView, offset: number): number {
  return dv.getUint32(offset, true) + dv.getUint32(offset + 4, true) * 0x1_0000_0000;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decode `count` struct bh_flow_record from `buf` (as bh_probe_drain_flows() filled it). */
export function decodeFlowRecords(buf: Uint8Array, count: number): FlowRecord[] {
  const dv = view(buf);
  const out: FlowRecord[] = [];
  const k = FLOW_KEY.fields;
  const s = FLOW_STATS.fields;
  for (let i = 0; i < count; i++) {
    const base = i * FLOW_RECORD.size;
    const st = base + FLOW_RECORD.fields.stats.offset;
    out.push({
      saddr: formatAddress(buf, base + k.saddr.offset),
      daddr: formatAddress(buf, base + k.daddr.offset),
      sport: dv.getUint16(base + k.sport.offset, false),
      dport: dv.getUint16(base + k.dport.offset, false),
      ifindex: dv.getUint32(base + k.ifindex.offset, true),
      proto: dv.getUint8(base + k.proto.offset),
      direction: DIRECTIONS[dv.getUint8(base + k.dir.offset)] ?? 'unknown',
      packets: u64Number(dv, st + s.packets.offset),
      bytes: u64Number(dv, st + s.bytes.offset),
      firstSeenNs: dv.getBigUint64(st + s.first_seen_ns.offset, true),
      lastSeenNs: dv.getBigUint64(st + s.last_seen_ns.offset, true),
      tcpFlags: dv.getUint32(st + s.tcp_flags.offset, true),
      connections: dv.getUint32(st + s.conns.offset, true),
    });
  }
  return out;
}

/** Decode `count` struct bh_drop_record from `buf`. */
export function decodeDropRecords(buf: Uint8Array, count: number): DropRecord[] {
  const dv = view(buf);
  const f = DROP_RECORD.fields;
  const out: DropRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * DROP_RECORD.size;
    out.push({
      saddr: formatAddress(buf, base + f.saddr.offset),
      daddr: formatAddress(buf, base + f.daddr.offset),
      sport: dv.getUint16(base + f.sport.offset, false),
      dport: dv.getUint16(base + f.dport.offset, false),
      proto: dv.getUint8(base + f.proto.offset),
      flags: dv.getUint8(base + f.flags.offset),
      netnsIno: dv.getUint32(base + f.netns_ino.offset, true),
      ifindex: dv.getUint32(base + f.ifindex.offset, true),
      reason: dv.getUint32(base + f.reason.offset, true),
      length: dv.getUint32(base + f.len.offset, true),
      tsNs: dv.getBigUint64(base + f.ts_ns.offset, true),
    });
  }
  return out;
}

/** Decode one struct bh_probe_counters. */
export function decodeCounters(buf: Uint8Array): ProbeCounters {
  const dv = view(buf);
  const f = PROBE_COUNTERS.fields;
  const u64 = (off: number): number => Number(dv.getBigUint64(off, true));
  return {
    flowsCreated: u64(f.flows_created.offset),
    flowsDrained: u64(f.flows_drained.offset),
    flowsEvicted: u64(f.flows_evicted.offset),
    flowsFull: u64(f.flows_full.offset),
    ringFull: u64(f.ring_full.offset),
    unparsed: u64(f.unparsed.offset),
    nonIp: u64(f.non_ip.offset),
    drops: u64(f.drops.offset),
    dropsNoTuple: u64(f.drops_no_tuple.offset),
  };
}

/** Decode one struct bh_prog_stats. */
export function decodeProgStats(buf: Uint8Array): ProgStats {
  const dv = view(buf);
  const f = PROG_STATS.fields;
  const u64 = (off: number): number => Number(dv.getBigUint64(off, true));
  return {
    fromPod: { runs: u64(f.from_pod_runs.offset), ns: u64(f.from_pod_ns.offset) },
    toPod: { runs: u64(f.to_pod_runs.offset), ns: u64(f.to_pod_ns.offset) },
    nfDrop: { runs: u64(f.nf_drop_runs.offset), ns: u64(f.nf_drop_ns.offset) },
  };
}

/** Encode struct bh_probe_opts. */
export function encodeOptions(opts: ProbeOptions): Uint8Array {
  const buf = new Uint8Array(PROBE_OPTS.size);
  const dv = view(buf);
  dv.setUint32(PROBE_OPTS.fields.flows_max_entries.offset, opts.flowsMaxEntries ?? 0, true);
  dv.setUint32(PROBE_OPTS.fields.ring_bytes.offset, opts.ringBytes ?? 0, true);
  return buf;
}
