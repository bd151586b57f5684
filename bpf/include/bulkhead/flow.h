/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * Flow accounting records: the key and value of the bh_flows map, and the
 * record libbulkhead hands to its caller (key + value, fixed size).
 *
 * TypeScript twin: cven/src/probe/abi.ts (FLOW_KEY, FLOW_STATS,
 * FLOW_RECORD). Keep the two aligned: cven/src/probe/abi.test.ts compares
 * every size and offset below with what libbulkhead reports through
 * bh_abi_sizeof()/bh_abi_offsetof(), and the _Static_asserts pin them here.
 *
 * Addresses and ports are in network byte order; counters and times in
 * host byte order.
 */
#ifndef BH_FLOW_H
#define BH_FLOW_H

#include "types.h"

/* Which way a packet crossed the pod's host-side veth. 0 = unknown. */
enum bh_dir {
	BH_DIR_UNKNOWN = 0,
	BH_DIR_FROM_POD = 1,	/* TC ingress of the host veth: the pod sent it */
	BH_DIR_TO_POD = 2,	/* TC egress of the host veth: the pod receives it */
};

/* TCP flag bits as on the wire (byte 13 of the TCP header). */
enum bh_tcp_flag {
	BH_TCP_FIN = 0x01,
	BH_TCP_SYN = 0x02,
	BH_TCP_RST = 0x04,
	BH_TCP_PSH = 0x08,
	BH_TCP_ACK = 0x10,
	BH_TCP_URG = 0x20,
	BH_TCP_ECE = 0x40,
	BH_TCP_CWR = 0x80,
};

/*
 * Key of the bh_flows maps: one entry per (veth, direction, 5-tuple). Hashed
 * bytewise, so every byte (padding included) is written by the program.
 *
 * ICMP and ICMPv6 have no ports: sport carries the echo identifier for
 * echo request/reply (0 otherwise) and dport carries (type << 8 | code),
 * both in network byte order, so a ping and its replies are two flows
 * keyed by the same identifier.
 */
struct bh_flow_key {
	__u8	saddr[16];	/*  0: IPv6, or IPv4 mapped as ::ffff:a.b.c.d */
	__u8	daddr[16];	/* 16: same encoding as saddr */
	__be16	sport;		/* 32: network byte order; see above for ICMP */
	__be16	dport;		/* 34: network byte order; see above for ICMP */
	__u32	ifindex;	/* 36: the host-side veth (host byte order) */
	__u8	proto;		/* 40: IPPROTO_* of the transport header */
	__u8	dir;		/* 41: enum bh_dir */
	__u8	pad[2];		/* 42: always zero */
};				/* 44 */

/*
 * Value of the bh_flows maps: what the programs add per packet. Updated in place
 * with atomic adds (one entry may be hit from several CPUs at once).
 * bytes and packets count the wire: a GSO/GRO super-packet of N segments
 * counts N packets and its payload plus N copies of its headers.
 */
struct bh_flow_stats {
	__u64	packets;	/*  0: segments on the wire */
	__u64	bytes;		/*  8: L2 bytes (Ethernet header included, no FCS) */
	__u64	first_seen_ns;	/* 16: CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns(): 1-4 ms steps) */
	__u64	last_seen_ns;	/* 24: same clock */
	__u32	tcp_flags;	/* 32: OR of enum bh_tcp_flag seen; 0 unless TCP */
	__u32	conns;		/* 36: TCP connections opened: initiator SYNs (SYN without ACK) of distinct
				 *     sequence numbers, so a 5-tuple reused between two drains counts each
				 *     connection and a retransmitted SYN counts once; 0 unless TCP */
	__u32	syn_seq;	/* 40: sequence number of the last SYN counted in conns (network order) */
	__u32	pad;		/* 44: always zero */
};				/* 48 */

/*
 * One drained flow as libbulkhead writes it into the caller's buffer:
 * the counts accumulated since the entry was created, which is after the
 * previous drain of that flow (a drain empties the map the programs
 * stopped writing to; see bh_flows in progs/pod_veth.bpf.c).
 */
struct bh_flow_record {
	struct bh_flow_key	key;	/*  0 */
	__u32			pad;	/* 44: always zero; aligns stats */
	struct bh_flow_stats	stats;	/* 48 */
};					/* 96 */

_Static_assert(sizeof(struct bh_flow_key) == 44, "bh_flow_key: keep aligned with abi.ts");
_Static_assert(sizeof(struct bh_flow_stats) == 48, "bh_flow_stats: keep aligned with abi.ts");
_Static_assert(sizeof(struct bh_flow_record) == 96, "bh_flow_record: keep aligned with abi.ts");

#endif /* BH_FLOW_H */
