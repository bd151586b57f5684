/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * What both probe programs share: constants vmlinux.h lacks (they are
 * macros in uapi headers, not in BTF), the bh_probe_stats map and its
 * increment. BPF side only; no TypeScript twin (see stats.h for that).
 */
#ifndef BH_PROGS_COMMON_H
#define BH_PROGS_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bulkhead/flow.h"
#include "bulkhead/drop.h"
#include "bulkhead/stats.h"

#define BH_ETH_P_IP	0x0800
#define BH_ETH_P_IPV6	0x86DD
#define BH_ETH_HLEN	14
#define BH_EEXIST	17

#define BH_IPPROTO_ICMPV6	58
#define BH_NEXTHDR_HOP		0
#define BH_NEXTHDR_ROUTING	43
#define BH_NEXTHDR_FRAGMENT	44
#define BH_NEXTHDR_DEST		60

#define BH_ICMP_ECHOREPLY	0
#define BH_ICMP_ECHO		8
#define BH_ICMPV6_ECHO_REQUEST	128
#define BH_ICMPV6_ECHO_REPLY	129

/*
 * bh_probe_stats - what the programs could not record, per CPU
 *
 * Inserts: none (an array: BH_STAT_MAX slots exist from load). Writers:
 * every program, plain increments (a per-CPU slot has one writer at a time).
 * Readers: bh_probe_read_counters() sums the CPUs. Never reset while loaded.
 * Declared __weak in both program files so the static link keeps one map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BH_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bh_probe_stats SEC(".maps") __weak;

static __always_inline void bh_stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&bh_probe_stats, &slot);

	if (v)
		*v += 1;
}

/* Write an IPv4 address as the IPv4-mapped IPv6 address ::ffff:a.b.c.d. */
static __always_inline void bh_map_v4(__u8 dst[16], __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* ICMP "ports" (flow.h): echo id as sport, (type << 8 | code) as dport. */
static __always_inline void bh_icmp_ports(__u8 proto, __u8 type, __u8 code, __be16 id,
					  __be16 *sport, __be16 *dport)
{
	int echo = proto == IPPROTO_ICMP ? (type == BH_ICMP_ECHO || type == BH_ICMP_ECHOREPLY)
					 : (type == BH_ICMPV6_ECHO_REQUEST || type == BH_ICMPV6_ECHO_REPLY);

	*sport = echo ? id : 0;
	*dport = bpf_htons(((__u16)type << 8) | code);
}

#endif /* BH_PROGS_COMMON_H */
