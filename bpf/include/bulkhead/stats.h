/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * What the probe could not record, and a few totals to reconcile with.
 *
 * enum bh_stat indexes the per-CPU array bh_probe_stats (BPF side only).
 * struct bh_probe_counters is what bh_probe_read_counters() returns: the
 * per-CPU slots summed, plus the helper's own reconciliation.
 * TypeScript twin: cven/src/probe/abi.ts (PROBE_COUNTERS); compared by
 * cven/src/probe/abi.test.ts.
 */
#ifndef BH_STATS_H
#define BH_STATS_H

#include "types.h"

/* Slots of bh_probe_stats. Never renumber: append. */
enum bh_stat {
	BH_STAT_FLOWS_CREATED = 0,	/* entries inserted into bh_flows */
	BH_STAT_FLOWS_FULL = 1,		/* loss: packets not accounted, bh_flows refused an insert */
	BH_STAT_RING_FULL = 2,		/* loss: drop records not written, bh_drops had no room */
	BH_STAT_UNPARSED = 3,		/* loss: IP packets too short or malformed to key */
	BH_STAT_NON_IP = 4,		/* not loss: frames neither IPv4 nor IPv6 (ARP ...) */
	BH_STAT_DROPS = 5,		/* netfilter drops written to bh_drops */
	BH_STAT_DROPS_NO_TUPLE = 6,	/* of those, headers unreadable (tuple zero) */
	BH_STAT_MAX = 7,
};

struct bh_probe_counters {
	__u64	flows_created;	/*  0: BH_STAT_FLOWS_CREATED */
	__u64	flows_drained;	/*  8: records handed out by bh_probe_drain_flows() */
	__u64	flows_evicted;	/* 16: loss: created, never drained (LRU eviction); see README */
	__u64	flows_full;	/* 24: loss: BH_STAT_FLOWS_FULL (packets) */
	__u64	ring_full;	/* 32: loss: BH_STAT_RING_FULL (drop records) */
	__u64	unparsed;	/* 40: loss: BH_STAT_UNPARSED (packets) */
	__u64	non_ip;		/* 48: BH_STAT_NON_IP (frames) */
	__u64	drops;		/* 56: BH_STAT_DROPS */
	__u64	drops_no_tuple;	/* 64: BH_STAT_DROPS_NO_TUPLE */
};				/* 72 */

_Static_assert(sizeof(struct bh_probe_counters) == 72, "bh_probe_counters: keep aligned with abi.ts");

/*
 * What the programs cost, from the kernel's own accounting (bpf_prog_info
 * run_cnt and run_time_ns). Zero unless bh_probe_enable_run_stats() was
 * called: the kernel counts only while someone holds a stats fd.
 * TypeScript twin: cven/src/probe/abi.ts (PROG_STATS).
 */
struct bh_prog_stats {
	__u64	from_pod_runs;		/*  0: bh_from_pod invocations */
	__u64	from_pod_ns;		/*  8: total ns spent in bh_from_pod */
	__u64	to_pod_runs;		/* 16 */
	__u64	to_pod_ns;		/* 24 */
	__u64	nf_drop_runs;		/* 32: bh_nf_drop (every kfree_skb, not only drops) */
	__u64	nf_drop_ns;		/* 40 */
};					/* 48 */

_Static_assert(sizeof(struct bh_prog_stats) == 48, "bh_prog_stats: keep aligned with abi.ts");

#endif /* BH_STATS_H */
