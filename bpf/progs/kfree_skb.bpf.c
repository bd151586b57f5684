/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * Drop recorder: packets netfilter dropped (tp_btf/kfree_skb with reason
 * SKB_DROP_REASON_NETFILTER_DROP), on the input and the output hooks, in
 * every network namespace of the kernel.
 *
 * Owns: bh_drops and the namespace attribution of a drop:
 *   1. skb->dev set (input, forward, postrouting): the device's namespace;
 *   2. else skb->sk set (output hook, before a device is chosen): the
 *      socket's namespace;
 *   3. else 0 (unknown).
 * Must not: keep the skb or anything it points to past the event.
 * Contract: bpf/include/bulkhead/drop.h, bpf/README.md.
 */
#include "lib/common.h"

/*
 * bh_drops - one struct bh_drop_record per netfilter drop
 *
 * Writer: bh_nf_drop. Reader: bh_probe_drain_drops() (consumes). Bound:
 * max_entries bytes (bh_probe_opts.ring_bytes; 256 KiB by default: about
 * 3600 records of 64 bytes plus the ring's 8-byte header); when the reader
 * lags and the ring is full, a record is not written and
 * BH_STAT_RING_FULL counts it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} bh_drops SEC(".maps");

/* Read the 5-tuple from the skb's network header; 0 on success. */
static __always_inline int bh_drop_tuple(const struct sk_buff *skb, struct bh_drop_record *r)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u32 l4off;
	__u8 ver;

	if (bpf_probe_read_kernel(&ver, 1, head + nh) < 0)
		return -1;
	ver >>= 4;
	if (ver == 4) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) < 0 || ip.ihl < 5)
			return -1;
		bh_map_v4(r->saddr, ip.saddr);
		bh_map_v4(r->daddr, ip.daddr);
		r->proto = ip.protocol;
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0;
		l4off = nh + ip.ihl * 4;
	} else if (ver == 6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) < 0)
			return -1;
		__builtin_memcpy(r->saddr, &ip6.saddr, 16);
		__builtin_memcpy(r->daddr, &ip6.daddr, 16);
		r->proto = ip6.nexthdr;	/* extension headers: tuple without ports */
		l4off = nh + sizeof(ip6);
	} else {
		return -1;
	}

	if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP) {
		__be16 ports[2];

		if (bpf_probe_read_kernel(ports, sizeof(ports), head + l4off) < 0)
			return -1;
		r->sport = ports[0];
		r->dport = ports[1];
	} else if (r->proto == IPPROTO_ICMP || r->proto == BH_IPPROTO_ICMPV6) {
		__u8 ih[6];

		if (bpf_probe_read_kernel(ih, sizeof(ih), head + l4off) < 0)
			return -1;
		bh_icmp_ports(r->proto, ih[0], ih[1], *(__be16 *)&ih[4], &r->sport, &r->dport);
	}
	return 0;
}

/**
 * bh_nf_drop - record a packet netfilter dropped
 * @skb: the packet being freed
 * @location: caller (unused)
 * @reason: why it is freed; only NETFILTER_DROP is recorded
 *
 * Other reasons return at once: this runs for every freed skb.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(bh_nf_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct bh_drop_record *r;
	struct net_device *dev;
	struct sock *sk;

	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NETFILTER_DROP))
		return 0;

	r = bpf_ringbuf_reserve(&bh_drops, sizeof(*r), 0);
	if (!r) {
		bh_stat_inc(BH_STAT_RING_FULL);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->reason = reason;
	r->len = BPF_CORE_READ(skb, len);
	r->ts_ns = bpf_ktime_get_ns();

	dev = BPF_CORE_READ(skb, dev);
	sk = BPF_CORE_READ(skb, sk);
	if (dev) {
		r->netns_ino = BPF_CORE_READ(dev, nd_net.net, ns.inum);
		r->ifindex = BPF_CORE_READ(dev, ifindex);
		r->flags |= BH_DROP_F_NS_FROM_DEV;
	} else if (sk) {
		r->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		r->flags |= BH_DROP_F_NS_FROM_SK;
	}

	if (bh_drop_tuple(skb, r) < 0) {
		r->flags |= BH_DROP_F_NO_TUPLE;
		bh_stat_inc(BH_STAT_DROPS_NO_TUPLE);
	}
	bh_stat_inc(BH_STAT_DROPS);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
