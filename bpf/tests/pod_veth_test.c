// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Copyright The Bulkhead Authors */
/*
 * bh_from_pod / bh_to_pod through BPF_PROG_TEST_RUN: hand-built frames in,
 * bh_flows and bh_probe_stats checked out. Needs root (loads programs);
 * attaches nothing.
 *
 * Invariants checked for every frame: the program returns TC_ACT_UNSPEC
 * and leaves the frame byte-for-byte unchanged (the probe only observes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bulkhead/flow.h"
#include "bulkhead/stats.h"
#include "probe.skel.h"
#include "test.h"

#define TC_ACT_UNSPEC (-1)

static struct bh_probe_bpf *skel;

struct frame {
	unsigned char	buf[256];
	size_t		len;
};

static void put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static void eth(struct frame *f, unsigned short proto)
{
	unsigned char h[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	h[12] = proto >> 8;
	h[13] = proto & 0xff;
	f->len = 0;
	put(f, h, sizeof(h));
}

static void ipv4(struct frame *f, const char *src, const char *dst, unsigned char proto,
		 unsigned short frag_off, size_t l4_len)
{
	unsigned char h[20] = { 0x45, 0 };
	unsigned short tot = htons(20 + l4_len), fo = htons(frag_off);

	memcpy(h + 2, &tot, 2);
	memcpy(h + 6, &fo, 2);
	h[8] = 64;
	h[9] = proto;
	inet_pton(AF_INET, src, h + 12);
	inet_pton(AF_INET, dst, h + 16);
	put(f, h, sizeof(h));
}

static void ipv6(struct frame *f, const char *src, const char *dst, unsigned char nexthdr, size_t plen)
{
	unsigned char h[40] = { 0x60, 0 };
	unsigned short pl = htons(plen);

	memcpy(h + 4, &pl, 2);
	h[6] = nexthdr;
	h[7] = 64;
	inet_pton(AF_INET6, src, h + 8);
	inet_pton(AF_INET6, dst, h + 24);
	put(f, h, sizeof(h));
}

static void tcp_seq(struct frame *f, unsigned short sport, unsigned short dport, unsigned char flags,
		    size_t payload, unsigned int seq)
{
	unsigned char h[20] = { 0 };
	unsigned short s = htons(sport), d = htons(dport);
	unsigned int q = htonl(seq);

	memcpy(h, &s, 2);
	memcpy(h + 2, &d, 2);
	memcpy(h + 4, &q, 4);
	h[12] = 5 << 4;
	h[13] = flags;
	put(f, h, sizeof(h));
	memset(f->buf + f->len, 'x', payload);
	f->len += payload;
}

static void tcp(struct frame *f, unsigned short sport, unsigned short dport, unsigned char flags,
		size_t payload)
{
	tcp_seq(f, sport, dport, flags, payload, 1000);
}

static void udp(struct frame *f, unsigned short sport, unsigned short dport, size_t payload)
{
	unsigned char h[8] = { 0 };
	unsigned short s = htons(sport), d = htons(dport), l = htons(8 + payload);

	memcpy(h, &s, 2);
	memcpy(h + 2, &d, 2);
	memcpy(h + 4, &l, 2);
	put(f, h, sizeof(h));
	memset(f->buf + f->len, 'u', payload);
	f->len += payload;
}

static void icmp(struct frame *f, unsigned char type, unsigned char code, unsigned short id)
{
	unsigned char h[8] = { type, code };
	unsigned short i = htons(id);

	memcpy(h + 4, &i, 2);
	put(f, h, sizeof(h));
}

/* Run one frame through prog; check the invariants. */
static void run(struct bpf_program *prog, const struct frame *f, unsigned int gso_segs)
{
	struct __sk_buff ctx = { .ifindex = 1, .gso_segs = gso_segs, .gso_size = gso_segs ? 1000 : 0 };
	unsigned char out[sizeof(f->buf)];
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf, .data_size_in = f->len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	CHECK(err == 0, "test run failed: %s", strerror(-err));
	CHECK((int)opts.retval == TC_ACT_UNSPEC, "returned %d, want TC_ACT_UNSPEC", (int)opts.retval);
	CHECK(opts.data_size_out == f->len && memcmp(out, f->buf, f->len) == 0, "the frame was changed");
}

static void key_of(struct bh_flow_key *k, int v6, const char *src, const char *dst, unsigned short sport,
		   unsigned short dport, unsigned char proto, unsigned char dir)
{
	memset(k, 0, sizeof(*k));
	if (v6) {
		inet_pton(AF_INET6, src, k->saddr);
		inet_pton(AF_INET6, dst, k->daddr);
	} else {
		k->saddr[10] = k->saddr[11] = k->daddr[10] = k->daddr[11] = 0xff;
		inet_pton(AF_INET, src, k->saddr + 12);
		inet_pton(AF_INET, dst, k->daddr + 12);
	}
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->proto = proto;
	k->dir = dir;
	k->ifindex = 1;
}

static int lookup(const struct bh_flow_key *k, struct bh_flow_stats *v)
{
	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.bh_flows_0), k, v);	/* the live map at load */
}

static unsigned long long stat(unsigned int slot)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long *vals = calloc(ncpus, sizeof(*vals)), sum = 0;

	if (vals && bpf_map_lookup_elem(bpf_map__fd(skel->maps.bh_probe_stats), &slot, vals) == 0)
		for (int i = 0; i < ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

static unsigned long long flows_count(void)
{
	struct bh_flow_key k, next;
	unsigned long long n = 0;
	int fd = bpf_map__fd(skel->maps.bh_flows_0);

	for (int err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		n++;
	}
	return n;
}

int main(void)
{
	struct bh_flow_stats v;
	struct bh_flow_key k;
	struct frame f;
	unsigned long long created, before;

	skel = bh_probe_bpf__open_and_load();
	if (!skel) {
		printf("pod_veth_test: load the probe: %s (run as root)\n", strerror(errno));
		return 1;
	}

	CASE("an IPv4 TCP SYN leaving the pod creates a from_pod flow with its 5-tuple");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 20);
	tcp(&f, 40000, 9000, BH_TCP_SYN, 0);
	run(skel->progs.bh_from_pod, &f, 0);
	key_of(&k, 0, "198.18.0.2", "198.18.0.1", 40000, 9000, IPPROTO_TCP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0, "no flow under the expected key");
	CHECK(v.packets == 1 && v.bytes == f.len, "packets %llu bytes %llu, want 1 and %zu",
	      (unsigned long long)v.packets, (unsigned long long)v.bytes, f.len);
	CHECK(v.tcp_flags == BH_TCP_SYN, "tcp_flags %#x", v.tcp_flags);
	CHECK(v.first_seen_ns > 0 && v.first_seen_ns == v.last_seen_ns, "first/last seen");
	CHECK(v.conns == 1, "conns %u, want 1 (an initiator's SYN opens a connection)", v.conns);
	CHECK(stat(BH_STAT_FLOWS_CREATED) == 1, "flows created %llu", stat(BH_STAT_FLOWS_CREATED));

	CASE("a second packet of the flow adds to it and ORs its flags");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 120);
	tcp(&f, 40000, 9000, BH_TCP_ACK | BH_TCP_PSH, 100);
	run(skel->progs.bh_from_pod, &f, 0);
	CHECK(lookup(&k, &v) == 0, "flow gone");
	CHECK(v.packets == 2 && v.bytes == 54 + 154, "packets %llu bytes %llu", (unsigned long long)v.packets,
	      (unsigned long long)v.bytes);
	CHECK(v.tcp_flags == (BH_TCP_SYN | BH_TCP_ACK | BH_TCP_PSH), "tcp_flags %#x", v.tcp_flags);
	CHECK(v.last_seen_ns >= v.first_seen_ns, "last_seen before first_seen");
	CHECK(stat(BH_STAT_FLOWS_CREATED) == 1, "a known flow was created again");

	CASE("a retransmitted SYN adds to the existing flow instead of creating one");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 20);
	tcp(&f, 40000, 9000, BH_TCP_SYN, 0);
	run(skel->progs.bh_from_pod, &f, 0);
	CHECK(lookup(&k, &v) == 0 && v.packets == 3 && v.bytes == 54 + 154 + 54, "packets %llu bytes %llu",
	      (unsigned long long)v.packets, (unsigned long long)v.bytes);
	CHECK(stat(BH_STAT_FLOWS_CREATED) == 1 && stat(BH_STAT_FLOWS_FULL) == 0, "created %llu full %llu",
	      stat(BH_STAT_FLOWS_CREATED), stat(BH_STAT_FLOWS_FULL));
	CHECK(v.conns == 1, "conns %u: a retransmitted SYN (same sequence number) counted again", v.conns);

	CASE("a new connection on the same 5-tuple before a drain counts as a second connection");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 20);
	tcp_seq(&f, 40000, 9000, BH_TCP_SYN, 0, 777777);
	run(skel->progs.bh_from_pod, &f, 0);
	CHECK(lookup(&k, &v) == 0 && v.conns == 2 && v.syn_seq == htonl(777777), "conns %u syn_seq %#x, want 2",
	      v.conns, v.syn_seq);
	CHECK(stat(BH_STAT_FLOWS_CREATED) == 1, "the reused 5-tuple made a second entry");

	CASE("the reply direction is a separate to_pod flow");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.1", "198.18.0.2", IPPROTO_TCP, 0, 20);
	tcp(&f, 9000, 40000, BH_TCP_SYN | BH_TCP_ACK, 0);
	run(skel->progs.bh_to_pod, &f, 0);
	key_of(&k, 0, "198.18.0.1", "198.18.0.2", 9000, 40000, IPPROTO_TCP, BH_DIR_TO_POD);
	CHECK(lookup(&k, &v) == 0 && v.packets == 1, "no to_pod flow");
	CHECK(v.conns == 0, "conns %u: a SYN-ACK opens no connection", v.conns);

	CASE("a GSO packet counts its segments and a header per segment");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 20 + 200);
	tcp(&f, 40001, 9000, BH_TCP_ACK, 200);
	run(skel->progs.bh_from_pod, &f, 4);
	key_of(&k, 0, "198.18.0.2", "198.18.0.1", 40001, 9000, IPPROTO_TCP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0, "no flow");
	CHECK(v.packets == 4 && v.bytes == f.len + 3 * 54, "packets %llu bytes %llu, want 4 and %zu",
	      (unsigned long long)v.packets, (unsigned long long)v.bytes, f.len + 3 * 54);

	CASE("IPv6 UDP to the pod is keyed with both full addresses");
	eth(&f, 0x86dd);
	ipv6(&f, "fd00::1", "fd00::2", IPPROTO_UDP, 8 + 32);
	udp(&f, 5353, 53, 32);
	run(skel->progs.bh_to_pod, &f, 0);
	key_of(&k, 1, "fd00::1", "fd00::2", 5353, 53, IPPROTO_UDP, BH_DIR_TO_POD);
	CHECK(lookup(&k, &v) == 0 && v.packets == 1 && v.bytes == f.len, "no or wrong flow");
	CHECK(v.tcp_flags == 0 && v.conns == 0, "UDP with TCP flags or connections");

	CASE("IPv6 TCP behind a hop-by-hop header still gets its ports");
	eth(&f, 0x86dd);
	ipv6(&f, "fd00::2", "fd00::1", 0 /* hop-by-hop */, 8 + 20);
	{
		unsigned char hbh[8] = { IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0 };	/* PadN */

		put(&f, hbh, sizeof(hbh));
	}
	tcp(&f, 41000, 443, BH_TCP_SYN, 0);
	run(skel->progs.bh_from_pod, &f, 0);
	key_of(&k, 1, "fd00::2", "fd00::1", 41000, 443, IPPROTO_TCP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0 && v.tcp_flags == BH_TCP_SYN, "no flow behind the extension header");

	CASE("ICMP echo is keyed by identifier (sport) and type/code (dport)");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_ICMP, 0, 8 + 56);
	icmp(&f, 8, 0, 0x1234);
	memset(f.buf + f.len, 0, 56);
	f.len += 56;
	run(skel->progs.bh_from_pod, &f, 0);
	key_of(&k, 0, "198.18.0.2", "198.18.0.1", 0x1234, 8 << 8, IPPROTO_ICMP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0 && v.bytes == f.len, "no echo-request flow");

	CASE("ICMPv6 echo reply is keyed the same way");
	eth(&f, 0x86dd);
	ipv6(&f, "fd00::1", "fd00::2", 58, 8);
	icmp(&f, 129, 0, 7);
	run(skel->progs.bh_to_pod, &f, 0);
	key_of(&k, 1, "fd00::1", "fd00::2", 7, 129 << 8, 58, BH_DIR_TO_POD);
	CHECK(lookup(&k, &v) == 0, "no echo-reply flow");

	CASE("a non-first IPv4 fragment is accounted with ports 0");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 185, 40);
	memset(f.buf + f.len, 'f', 40);
	f.len += 40;
	run(skel->progs.bh_from_pod, &f, 0);
	key_of(&k, 0, "198.18.0.2", "198.18.0.1", 0, 0, IPPROTO_UDP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0, "fragment not accounted");

	CASE("IPv4 with options takes the general parser and is keyed like the fast path");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 4 + 20);
	f.buf[14] = 0x46;			/* IHL 6: one word of options */
	put(&f, "\x01\x01\x01\x00", 4);	/* NOP NOP NOP EOL */
	tcp(&f, 40002, 9000, BH_TCP_SYN, 0);
	run(skel->progs.bh_from_pod, &f, 3);
	key_of(&k, 0, "198.18.0.2", "198.18.0.1", 40002, 9000, IPPROTO_TCP, BH_DIR_FROM_POD);
	CHECK(lookup(&k, &v) == 0, "no flow for the packet with IP options");
	CHECK(v.packets == 3 && v.bytes == f.len + 2 * 58, "packets %llu bytes %llu, want 3 and %zu (58-byte headers)",
	      (unsigned long long)v.packets, (unsigned long long)v.bytes, f.len + 2 * 58);
	CHECK(v.tcp_flags == BH_TCP_SYN, "tcp_flags %#x", v.tcp_flags);

	CASE("ARP is skipped and counted as non-IP, not as loss");
	before = flows_count();
	created = stat(BH_STAT_FLOWS_CREATED);
	eth(&f, 0x0806);
	memset(f.buf + f.len, 0, 28);
	f.len += 28;
	run(skel->progs.bh_from_pod, &f, 0);
	CHECK(stat(BH_STAT_NON_IP) == 1, "non_ip %llu", stat(BH_STAT_NON_IP));
	CHECK(stat(BH_STAT_UNPARSED) == 0, "ARP counted as unparsed");
	CHECK(flows_count() == before && stat(BH_STAT_FLOWS_CREATED) == created, "ARP made a flow");

	CASE("a truncated TCP header is counted as unparsed");
	eth(&f, 0x0800);
	ipv4(&f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 0, 20);
	put(&f, "\x9c\x40\x23", 3);	/* 3 bytes of a TCP header */
	run(skel->progs.bh_from_pod, &f, 0);
	CHECK(stat(BH_STAT_UNPARSED) == 1, "unparsed %llu", stat(BH_STAT_UNPARSED));
	CHECK(flows_count() == before, "a truncated packet made a flow");

	CASE("invariant: every flow entry is counted as created once");
	CHECK(stat(BH_STAT_FLOWS_CREATED) == flows_count(), "created %llu, entries %llu",
	      stat(BH_STAT_FLOWS_CREATED), flows_count());
	CHECK(stat(BH_STAT_FLOWS_FULL) == 0, "flows_full %llu in a map with room", stat(BH_STAT_FLOWS_FULL));

	bh_probe_bpf__destroy(skel);
	return bh_test_summary("pod_veth_test");
}
