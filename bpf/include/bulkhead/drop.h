/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * A packet netfilter dropped, as the kfree_skb recorder writes it into the
 * bh_drops ring buffer and as libbulkhead copies it to its caller.
 *
 * TypeScript twin: cven/src/probe/abi.ts (DROP_RECORD); sizes and offsets
 * compared by cven/src/probe/abi.test.ts.
 *
 * One kernel serves every network namespace (and every lab node): each
 * record carries the namespace inode so a reader keeps only its own.
 */
#ifndef BH_DROP_H
#define BH_DROP_H

#include "types.h"

/* How the recorder found the namespace (bh_drop_record.flags). */
enum bh_drop_flag {
	BH_DROP_F_NS_FROM_DEV = 0x01,	/* skb->dev: input side (device known) */
	BH_DROP_F_NS_FROM_SK = 0x02,	/* skb->sk: output side, before a device */
	BH_DROP_F_NO_TUPLE = 0x04,	/* headers unreadable: addresses/ports zero */
};

struct bh_drop_record {
	__u8	saddr[16];	/*  0: IPv6, or IPv4 mapped as ::ffff:a.b.c.d */
	__u8	daddr[16];	/* 16 */
	__be16	sport;		/* 32: network byte order; ICMP as in flow.h */
	__be16	dport;		/* 34: network byte order */
	__u8	proto;		/* 36: IPPROTO_* */
	__u8	flags;		/* 37: enum bh_drop_flag */
	__u8	pad[2];		/* 38: always zero */
	__u32	netns_ino;	/* 40: inode of the namespace (/proc/PID/ns/net); 0 unknown */
	__u32	ifindex;	/* 44: skb->dev->ifindex in that namespace; 0 when no device */
	__u32	reason;		/* 48: enum skb_drop_reason (NETFILTER_DROP) */
	__u32	len;		/* 52: skb->len: L3 bytes (no L2 header on these hooks) */
	__u64	ts_ns;		/* 56: CLOCK_MONOTONIC, bpf_ktime_get_ns() */
};				/* 64 */

_Static_assert(sizeof(struct bh_drop_record) == 64, "bh_drop_record: keep aligned with abi.ts");

#endif /* BH_DROP_H */
