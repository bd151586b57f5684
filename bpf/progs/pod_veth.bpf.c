/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * Flow accounting on a pod's host-side veth (TC clsact, both directions).
 *
 * Owns: bh_flows (and the two maps it selects from) and the parsing of a frame into struct bh_flow_key.
 * Must not: change, drop or redirect a packet. The probe observes;
 * nftables decides. Every program returns TC_ACT_UNSPEC so any filter
 * after ours still runs (TC_ACT_OK would end classification).
 * Contract: bpf/include/bulkhead/flow.h (record layout), bpf/README.md.
 */
#include "lib/common.h"

#define TC_ACT_UNSPEC (-1)

/* IPv6 extension headers walked before giving up on the transport header. */
#define BH_IPV6_MAX_EXT 4

/*
 * bh_flows_0, bh_flows_1 - per-flow counters, the probe's only per-packet
 * write; two of them, so a drain reads a map nobody writes to any more
 *
 * Inserts: bh_from_pod/bh_to_pod, the first packet of a flow (BPF_NOEXIST),
 * into whichever of the two bh_flows' slot 0 holds (the live one).
 * Deletes: bh_probe_drain_flows(), only ever on the other one (the standby):
 * it first swaps slot 0 to the standby, which the kernel answers only after
 * every program run that could still hold the old map has finished
 * (synchronize_rcu() on any update of a map-in-map), then empties the old
 * one by lookup-and-delete batches. So no packet lands between a drain's
 * copy and its delete (issue 7), and a drain never frees an element a
 * program is writing to. The kernel's LRU also deletes when a map is full
 * (the oldest entries go first; the helper counts those as flows_evicted).
 * Bound: max_entries each, set by the helper before load
 * (bh_probe_opts.flows_max_entries; 65536 by default).
 */
struct bh_flows_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bh_flow_key);
	__type(value, struct bh_flow_stats);
};

struct bh_flows_map bh_flows_0 SEC(".maps");
struct bh_flows_map bh_flows_1 SEC(".maps");

/*
 * bh_flows - which of bh_flows_0/bh_flows_1 the programs write to (slot 0)
 *
 * Inserts: none (an array). Writers: the helper alone, at each drain
 * (bh_flows_swap() in helper/libbulkhead.c); starts on bh_flows_0.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct bh_flows_map);
} bh_flows SEC(".maps") = {
	.values = { [0] = &bh_flows_0 },
};

/* Result of bh_parse(): 0 keyed, or why not. */
enum bh_parse_result {
	BH_PARSE_OK = 0,
	BH_PARSE_NON_IP = 1,
	BH_PARSE_BAD = 2,
};

struct bh_icmp_head {
	__u8	type;
	__u8	code;
	__be16	csum;
	__be16	id;	/* echo only */
	__be16	seq;
};

/**
 * bh_parse - key a frame and find its header length
 * @skb: the frame, starting at the Ethernet header
 * @key: out; every field except ifindex and dir (the caller's)
 * @hdr_len: out; bytes of headers before the transport payload, counted
 *	once per segment when a GSO packet is expanded to the wire
 * @tcp_flags: out; the TCP flag byte, 0 for other protocols
 * @tcp_seq: out; the TCP sequence number (network order), 0 for other protocols
 *
 * The general parser (bh_parse_fast() takes the common case first). Reads
 * with bpf_skb_load_bytes(), so paged (non-linear) frames parse too.
 * A non-first fragment, or a transport the probe does not know, is keyed
 * with ports 0.
 */
static __always_inline int bh_parse(struct __sk_buff *skb, struct bh_flow_key *key,
				    __u32 *hdr_len, __u32 *tcp_flags, __u32 *tcp_seq)
{
	__u32 off = BH_ETH_HLEN;
	int has_l4 = 1;
	__be16 h_proto;
	__u8 proto;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0)
		return BH_PARSE_BAD;

	if (h_proto == bpf_htons(BH_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
			return BH_PARSE_BAD;
		bh_map_v4(key->saddr, ip.saddr);
		bh_map_v4(key->daddr, ip.daddr);
		proto = ip.protocol;
		off += ip.ihl * 4;
		if (ip.frag_off & bpf_htons(0x1fff))	/* non-first fragment */
			has_l4 = 0;
	} else if (h_proto == bpf_htons(BH_ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		int i;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return BH_PARSE_BAD;
		__builtin_memcpy(key->saddr, &ip6.saddr, 16);
		__builtin_memcpy(key->daddr, &ip6.daddr, 16);
		proto = ip6.nexthdr;
		off += sizeof(ip6);
#pragma unroll
		for (i = 0; i < BH_IPV6_MAX_EXT; i++) {
			struct { __u8 nexthdr; __u8 len; __be16 frag_off; } ext;

			if (proto != BH_NEXTHDR_HOP && proto != BH_NEXTHDR_ROUTING &&
			    proto != BH_NEXTHDR_DEST && proto != BH_NEXTHDR_FRAGMENT)
				break;
			if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)) < 0)
				return BH_PARSE_BAD;
			if (proto == BH_NEXTHDR_FRAGMENT) {
				off += 8;
				if (ext.frag_off & bpf_htons(0xfff8))
					has_l4 = 0;
			} else {
				off += (ext.len + 1) * 8;
			}
			proto = ext.nexthdr;
		}
	} else {
		return BH_PARSE_NON_IP;
	}

	key->proto = proto;
	*hdr_len = off;
	if (!has_l4)
		return BH_PARSE_OK;

	if (proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)) < 0)
			return BH_PARSE_BAD;
		key->sport = th.source;
		key->dport = th.dest;
		*tcp_flags = ((__u8 *)&th)[13];
		*tcp_seq = th.seq;
		*hdr_len = off + th.doff * 4;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, off, &uh, sizeof(uh)) < 0)
			return BH_PARSE_BAD;
		key->sport = uh.source;
		key->dport = uh.dest;
		*hdr_len = off + sizeof(uh);
	} else if (proto == IPPROTO_ICMP || proto == BH_IPPROTO_ICMPV6) {
		struct bh_icmp_head ih;

		if (bpf_skb_load_bytes(skb, off, &ih, sizeof(ih)) < 0)
			return BH_PARSE_BAD;
		bh_icmp_ports(proto, ih.type, ih.code, ih.id, &key->sport, &key->dport);
		*hdr_len = off + sizeof(ih);
	}
	return BH_PARSE_OK;
}

/**
 * bh_parse_fast - key the common frame by direct packet access
 *
 * The common case on a pod's veth: IPv4 without options or fragmentation,
 * or IPv6 without extension headers, carrying TCP, UDP or ICMP, headers in
 * the linear part of the skb. Anything else returns -1 and goes to
 * bh_parse(), which handles every case (at about twice the cost). Both
 * write the same key for the same frame (bpf/tests/pod_veth_test.c).
 */
static __always_inline int bh_parse_fast(struct __sk_buff *skb, struct bh_flow_key *key,
					 __u32 *hdr_len, __u32 *tcp_flags, __u32 *tcp_seq)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	void *l4;
	__u32 off;
	__u8 proto;

	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(BH_ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
			return -1;
		bh_map_v4(key->saddr, ip->saddr);
		bh_map_v4(key->daddr, ip->daddr);
		proto = ip->protocol;
		l4 = ip + 1;
		off = BH_ETH_HLEN + sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(BH_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(key->saddr, &ip6->saddr, 16);
		__builtin_memcpy(key->daddr, &ip6->daddr, 16);
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
		off = BH_ETH_HLEN + sizeof(*ip6);
	} else {
		return -1;
	}

	key->proto = proto;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return -1;
		key->sport = th->source;
		key->dport = th->dest;
		*tcp_flags = ((__u8 *)th)[13];
		*tcp_seq = th->seq;
		*hdr_len = off + th->doff * 4;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end)
			return -1;
		key->sport = uh->source;
		key->dport = uh->dest;
		*hdr_len = off + sizeof(*uh);
	} else if (proto == IPPROTO_ICMP || proto == BH_IPPROTO_ICMPV6) {
		struct bh_icmp_head *ih = l4;

		if ((void *)(ih + 1) > end)
			return -1;
		bh_icmp_ports(proto, ih->type, ih->code, ih->id, &key->sport, &key->dport);
		*hdr_len = off + sizeof(*ih);
	} else {
		return -1;
	}
	return 0;
}

/**
 * bh_flow_account - add one (possibly GSO) packet to its flow
 * @flows: the live map (bh_flows slot 0)
 *
 * A known flow costs one hash lookup and two atomic adds. A new flow is
 * inserted with BPF_NOEXIST; losing that race to another CPU (-EEXIST)
 * falls back to the other CPU's entry. Anything else (no free element) is
 * counted in BH_STAT_FLOWS_FULL. A TCP SYN (or SYN-ACK) almost always
 * starts a flow, so it tries the insert first and skips a lookup that
 * would miss.
 *
 * An initiator's SYN (SYN without ACK) opens a connection: conns counts it
 * unless it repeats the sequence number of the last one counted (a
 * retransmission). A client that reuses its port before the next drain
 * (the server closed first, so the port is free at once) lands in the same
 * entry, and conns keeps both connections apart (issue 7).
 */
static __always_inline void bh_flow_account(void *flows, const struct bh_flow_key *key, __u64 packets,
					    __u64 bytes, __u32 tcp_flags, __u32 tcp_seq)
{
	/* Coarse clock (last tick, 1-4 ms): first/last seen need no more, and it costs no clock read. */
	__u64 now = bpf_ktime_get_coarse_ns();
	int is_syn = key->proto == IPPROTO_TCP && (tcp_flags & BH_TCP_SYN);
	int opens = is_syn && !(tcp_flags & BH_TCP_ACK);
	struct bh_flow_stats *v = is_syn ? NULL : bpf_map_lookup_elem(flows, key);

	if (!v) {
		struct bh_flow_stats init = {
			.packets = packets,
			.bytes = bytes,
			.first_seen_ns = now,
			.last_seen_ns = now,
			.tcp_flags = tcp_flags,
			.conns = opens ? 1 : 0,
			.syn_seq = opens ? tcp_seq : 0,
		};
		int err = bpf_map_update_elem(flows, key, &init, BPF_NOEXIST);

		if (err == 0) {
			bh_stat_inc(BH_STAT_FLOWS_CREATED);
			return;
		}
		if (err == -BH_EEXIST)
			v = bpf_map_lookup_elem(flows, key);
		if (!v) {
			bh_stat_inc(BH_STAT_FLOWS_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->packets, packets);
	__sync_fetch_and_add(&v->bytes, bytes);
	v->last_seen_ns = now;
	if ((v->tcp_flags | tcp_flags) != v->tcp_flags)
		__sync_fetch_and_or(&v->tcp_flags, tcp_flags);
	/* One 5-tuple opens one connection at a time: no two CPUs race on syn_seq. */
	if (opens && (v->conns == 0 || v->syn_seq != tcp_seq)) {
		v->syn_seq = tcp_seq;
		__sync_fetch_and_add(&v->conns, 1);
	}
}

static __always_inline int bh_account(struct __sk_buff *skb, __u8 dir)
{
	struct bh_flow_key key = {};
	__u32 hdr_len = 0, tcp_flags = 0, tcp_seq = 0, zero = 0;
	__u64 segs, bytes;
	void *flows;
	int res;

	if (bh_parse_fast(skb, &key, &hdr_len, &tcp_flags, &tcp_seq) == 0) {
		res = BH_PARSE_OK;
	} else {
		__builtin_memset(&key, 0, sizeof(key));
		tcp_flags = 0;
		tcp_seq = 0;
		res = bh_parse(skb, &key, &hdr_len, &tcp_flags, &tcp_seq);
	}
	if (res == BH_PARSE_NON_IP) {
		bh_stat_inc(BH_STAT_NON_IP);
		return TC_ACT_UNSPEC;
	}
	if (res != BH_PARSE_OK) {
		bh_stat_inc(BH_STAT_UNPARSED);
		return TC_ACT_UNSPEC;
	}
	key.ifindex = skb->ifindex;
	key.dir = dir;

	/* A GSO packet of N segments is N packets on the wire, each with its own headers. */
	segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	bytes = skb->len + (segs - 1) * hdr_len;
	flows = bpf_map_lookup_elem(&bh_flows, &zero);
	if (!flows) {	/* cannot happen: the slot is set before any program is attached */
		bh_stat_inc(BH_STAT_FLOWS_FULL);
		return TC_ACT_UNSPEC;
	}
	bh_flow_account(flows, &key, segs, bytes, tcp_flags, tcp_seq);
	return TC_ACT_UNSPEC;
}

/**
 * bh_from_pod - account a packet the pod sent (host veth, TC ingress)
 * @skb: the packet; read, never modified
 *
 * Returns TC_ACT_UNSPEC always. What cannot be stored is counted
 * (bh_probe_stats: BH_STAT_FLOWS_FULL, BH_STAT_UNPARSED).
 */
SEC("tc")
int bh_from_pod(struct __sk_buff *skb)
{
	return bh_account(skb, BH_DIR_FROM_POD);
}

/**
 * bh_to_pod - account a packet the pod receives (host veth, TC egress)
 * @skb: the packet; read, never modified
 *
 * As bh_from_pod.
 */
SEC("tc")
int bh_to_pod(struct __sk_buff *skb)
{
	return bh_account(skb, BH_DIR_TO_POD);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
