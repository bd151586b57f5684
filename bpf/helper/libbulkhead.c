// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Copyright The Bulkhead Authors */
/*
 * libbulkhead: loads the probe (embedded as a bpftool skeleton), attaches
 * it to pods' host-side veths, drains flows and drops into the caller's
 * buffers of fixed-size records, and reads the loss counters.
 *
 * Owns: the probe's lifecycle in the kernel (what it attaches it detaches;
 * a clsact qdisc it found is adopted and left in place) and the eviction
 * reconciliation (flows_evicted), and which of the two flow maps the
 * programs write to (the drain swaps them; see bh_flows in pod_veth.bpf.c).
 * Must not: print on success paths; hold the GIL-free caller's thread
 * (every call returns without waiting for traffic).
 * Contract: libbulkhead.h; record layouts in ../include/bulkhead/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libbulkhead.h"
#include "probe.skel.h"

/* Records moved per batch syscall; also the staging size of a drain. */
#define BH_BATCH 4096

struct bh_tc_link {
	int	ifindex;
	bool	created_qdisc;	/* only then does detach remove the qdisc */
	__u32	in_handle, in_prio;	/* bh_from_pod on ingress */
	__u32	eg_handle, eg_prio;	/* bh_to_pod on egress */
};

struct bh_probe {
	struct bh_probe_bpf	*skel;
	struct bpf_link		*drop_link;
	struct ring_buffer	*rb;

	struct bh_tc_link	*links;
	size_t			nlinks, links_cap;

	/* Flows deleted from the standby map but not yet handed to the caller. */
	struct bh_flow_key	*keys;
	struct bh_flow_stats	*vals;
	__u32			staged, next;
	__u64			batch;		/* htab batch cursor (a bucket index) */
	bool			in_pass;	/* emptying the standby map (swapped, not yet empty) */
	bool			has_cursor;	/* batch is valid */
	int			live;		/* which of bh_flows_0/1 is in bh_flows slot 0 */
	__u64			drained;	/* records handed to callers */
	__u64			evicted;	/* last flows_evicted reported (never decreases) */

	/* Drops: the caller's buffer during a drain, and one record that did not fit. */
	struct bh_drop_record	*out;
	unsigned int		out_cap, out_n;
	struct bh_drop_record	held;
	bool			has_held;

	int			ncpus;
	int			stats_fd;	/* BPF_ENABLE_STATS fd, or -1 */
};

static __thread char bh_err_buf[512];

/* Record the failed step (and errno text) for bh_last_error(); returns err. */
static int bh_fail(int err, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(bh_err_buf, sizeof(bh_err_buf), "%s: %s (errno %d)", what, strerror(-err), -err);
	return err;
}

const char *bh_last_error(void)
{
	return bh_err_buf;
}

/* libbpf's own log (verifier output ...) only when asked: the caller reports errors. */
static int bh_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("BULKHEAD_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int bh_drop_sample(void *ctx, void *data, size_t size)
{
	struct bh_probe *p = ctx;

	if (size < sizeof(struct bh_drop_record))
		return 0;	/* not ours to decode; cannot happen with one writer */
	if (p->out_n < p->out_cap) {
		memcpy(&p->out[p->out_n++], data, sizeof(struct bh_drop_record));
		return 0;
	}
	/* Consumed by libbpf already: keep it for the next drain, then stop. */
	memcpy(&p->held, data, sizeof(p->held));
	p->has_held = true;
	return -E2BIG;
}

int bh_probe_open(const struct bh_probe_opts *opts, struct bh_probe **out)
{
	__u32 flows_max = opts && opts->flows_max_entries ? opts->flows_max_entries : BH_FLOWS_MAX_DEFAULT;
	__u32 ring_bytes = opts && opts->ring_bytes ? opts->ring_bytes : BH_RING_BYTES_DEFAULT;
	struct bh_probe *p = NULL;
	int err;

	bh_err_buf[0] = '\0';
	if (!out)
		return bh_fail(-EINVAL, "open: out is NULL");
	*out = NULL;
	libbpf_set_print(bh_libbpf_print);

	p = calloc(1, sizeof(*p));
	if (!p) {
		err = bh_fail(-ENOMEM, "open: allocate the probe");
		goto cleanup;
	}
	p->stats_fd = -1;
	p->keys = calloc(BH_BATCH, sizeof(*p->keys));
	p->vals = calloc(BH_BATCH, sizeof(*p->vals));
	if (!p->keys || !p->vals) {
		err = bh_fail(-ENOMEM, "open: allocate the drain buffers");
		goto cleanup;
	}
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus < 0) {
		err = bh_fail(p->ncpus, "open: count possible CPUs");
		goto cleanup;
	}

	p->skel = bh_probe_bpf__open();
	if (!p->skel) {
		err = bh_fail(-errno, "open: open the embedded BPF object");
		goto cleanup;
	}
	err = bpf_map__set_max_entries(p->skel->maps.bh_flows_0, flows_max);
	if (err) {
		bh_fail(err, "open: size bh_flows_0 to %u entries", flows_max);
		goto cleanup;
	}
	err = bpf_map__set_max_entries(p->skel->maps.bh_flows_1, flows_max);
	if (err) {
		bh_fail(err, "open: size bh_flows_1 to %u entries", flows_max);
		goto cleanup;
	}
	err = bpf_map__set_max_entries(p->skel->maps.bh_drops, ring_bytes);
	if (err) {
		bh_fail(err, "open: size bh_drops to %u bytes", ring_bytes);
		goto cleanup;
	}
	err = bh_probe_bpf__load(p->skel);
	if (err) {
		bh_fail(err, "open: load the BPF programs (run as root; BULKHEAD_BPF_DEBUG=1 shows the verifier log)");
		goto cleanup;
	}
	p->drop_link = bpf_program__attach(p->skel->progs.bh_nf_drop);
	if (!p->drop_link) {
		err = bh_fail(-errno, "open: attach bh_nf_drop to tp_btf/kfree_skb");
		goto cleanup;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.bh_drops), bh_drop_sample, p, NULL);
	if (!p->rb) {
		err = bh_fail(-errno, "open: map the bh_drops ring buffer");
		goto cleanup;
	}
	*out = p;
	return 0;

cleanup:
	bh_probe_close(p);
	return err;
}

static struct bh_tc_link *bh_find_link(struct bh_probe *p, int ifindex)
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i].ifindex == ifindex)
			return &p->links[i];
	return NULL;
}

/* Remove what one link holds; tolerant of an interface that is already gone. */
static int bh_tc_unlink(struct bh_tc_link *l)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);
	int err, first = 0;

	if (l->in_handle) {
		hook.attach_point = BPF_TC_INGRESS;
		opts.handle = l->in_handle;
		opts.priority = l->in_prio;
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
			first = bh_fail(err, "detach: remove bh_from_pod from ifindex %d ingress", l->ifindex);
		l->in_handle = 0;
	}
	if (l->eg_handle) {
		hook.attach_point = BPF_TC_EGRESS;
		opts.handle = l->eg_handle;
		opts.priority = l->eg_prio;
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL && !first)
			first = bh_fail(err, "detach: remove bh_to_pod from ifindex %d egress", l->ifindex);
		l->eg_handle = 0;
	}
	if (l->created_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL && !first)
			first = bh_fail(err, "detach: remove the clsact qdisc we created on ifindex %d", l->ifindex);
		l->created_qdisc = false;
	}
	return first;
}

int bh_probe_attach(struct bh_probe *p, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);
	struct bh_tc_link l = { .ifindex = ifindex };
	int err;

	bh_err_buf[0] = '\0';
	if (!p || ifindex <= 0)
		return bh_fail(-EINVAL, "attach: bad handle or ifindex %d", ifindex);
	if (bh_find_link(p, ifindex))
		return 0;
	if (p->nlinks == p->links_cap) {
		size_t cap = p->links_cap ? p->links_cap * 2 : 16;
		struct bh_tc_link *links = realloc(p->links, cap * sizeof(*links));

		if (!links)
			return bh_fail(-ENOMEM, "attach: grow the link table");
		p->links = links;
		p->links_cap = cap;
	}

	/* "Already exists" is a state to adopt: someone else's clsact stays theirs. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		bh_fail(err, "attach: create the clsact qdisc on ifindex %d", ifindex);
		goto cleanup;
	}
	l.created_qdisc = err == 0;

	/* Handle and priority 0: the kernel picks free ones (ahead of existing filters). */
	hook.attach_point = BPF_TC_INGRESS;
	opts.prog_fd = bpf_program__fd(p->skel->progs.bh_from_pod);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		bh_fail(err, "attach: add bh_from_pod on ifindex %d ingress", ifindex);
		goto cleanup;
	}
	l.in_handle = opts.handle;
	l.in_prio = opts.priority;

	hook.attach_point = BPF_TC_EGRESS;
	opts.prog_fd = bpf_program__fd(p->skel->progs.bh_to_pod);
	opts.handle = 0;
	opts.priority = 0;
	opts.prog_id = 0;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		bh_fail(err, "attach: add bh_to_pod on ifindex %d egress", ifindex);
		goto cleanup;
	}
	l.eg_handle = opts.handle;
	l.eg_prio = opts.priority;

	p->links[p->nlinks++] = l;
	return 0;

cleanup:
	bh_tc_unlink(&l);
	return err;
}

int bh_probe_detach(struct bh_probe *p, int ifindex)
{
	struct bh_tc_link *l;
	int err;

	bh_err_buf[0] = '\0';
	if (!p)
		return bh_fail(-EINVAL, "detach: handle is NULL");
	l = bh_find_link(p, ifindex);
	if (!l)
		return bh_fail(-ENOENT, "detach: the probe is not attached to ifindex %d", ifindex);
	err = bh_tc_unlink(l);
	*l = p->links[--p->nlinks];
	return err;
}

static struct bpf_map *bh_flows_map(struct bh_probe *p, int which)
{
	return which ? p->skel->maps.bh_flows_1 : p->skel->maps.bh_flows_0;
}

/*
 * Point bh_flows slot 0 at the other map. The kernel returns from the update
 * of a map-in-map only after synchronize_rcu(), that is after every program
 * run that looked up the old map has finished: from then on the old map (the
 * standby) has no writer, and a drain of it copies exactly what it deletes.
 */
static int bh_flows_swap(struct bh_probe *p)
{
	__u32 slot = 0;
	int next = !p->live;
	int fd = bpf_map__fd(bh_flows_map(p, next));
	int err;

	err = bpf_map_update_elem(bpf_map__fd(p->skel->maps.bh_flows), &slot, &fd, BPF_ANY);
	if (err)
		return bh_fail(err, "drain flows: swap bh_flows to bh_flows_%d", next);
	p->live = next;
	p->in_pass = true;
	p->has_cursor = false;
	return 0;
}

/* One lookup-and-delete batch of the standby map into the staging arrays; -ENOENT ends the pass. */
static int bh_flows_refill(struct bh_probe *p)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	int standby = !p->live;
	__u32 count = BH_BATCH;
	int err;

	p->staged = p->next = 0;
	err = bpf_map_lookup_and_delete_batch(bpf_map__fd(bh_flows_map(p, standby)),
					      p->has_cursor ? &p->batch : NULL, &p->batch,
					      p->keys, p->vals, &count, &bopts);
	if (err && err != -ENOENT)
		return bh_fail(err, "drain flows: lookup-and-delete batch on bh_flows_%d", standby);
	p->has_cursor = err == 0;
	p->in_pass = err == 0;
	p->staged = count;
	return 0;
}

int bh_probe_drain_flows(struct bh_probe *p, struct bh_flow_record *buf, unsigned int cap)
{
	bool pass_ended = false;	/* one swap and one pass per call: never spin over a busy map */
	unsigned int n = 0;
	int err;

	bh_err_buf[0] = '\0';
	if (!p || (!buf && cap))
		return bh_fail(-EINVAL, "drain flows: bad handle or buffer");
	while (n < cap) {
		if (p->next == p->staged) {
			if (pass_ended)
				break;
			if (!p->in_pass) {
				err = bh_flows_swap(p);
				if (err) {
					if (n)
						break;	/* hand out what was read; the error repeats next call */
					return err;
				}
			}
			err = bh_flows_refill(p);
			if (err) {
				if (n)
					break;
				return err;
			}
			pass_ended = !p->in_pass;
			if (p->staged == 0)
				continue;
		}
		memset(&buf[n], 0, sizeof(buf[n]));
		buf[n].key = p->keys[p->next];
		buf[n].stats = p->vals[p->next];
		p->next++;
		n++;
	}
	p->drained += n;
	return (int)n;
}

int bh_probe_drain_drops(struct bh_probe *p, struct bh_drop_record *buf, unsigned int cap)
{
	int err;

	bh_err_buf[0] = '\0';
	if (!p || (!buf && cap))
		return bh_fail(-EINVAL, "drain drops: bad handle or buffer");
	p->out = buf;
	p->out_cap = cap;
	p->out_n = 0;
	if (cap && p->has_held) {
		buf[p->out_n++] = p->held;
		p->has_held = false;
	}
	if (p->out_n < cap) {
		err = ring_buffer__consume(p->rb);
		if (err < 0 && err != -E2BIG) {
			p->out = NULL;
			return bh_fail(err, "drain drops: consume bh_drops");
		}
	}
	p->out = NULL;
	return (int)p->out_n;
}

/* Entries now in bh_flows_0 and bh_flows_1, by batch lookup (no deletion). */
static int bh_flows_count(struct bh_probe *p, __u64 *live)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct bh_flow_key *keys = NULL;
	struct bh_flow_stats *vals = NULL;
	int err = 0;

	*live = 0;
	keys = calloc(BH_BATCH, sizeof(*keys));
	vals = calloc(BH_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		err = bh_fail(-ENOMEM, "read counters: allocate the count buffers");
		goto cleanup;
	}
	for (int which = 0; which < 2; which++) {
		__u64 batch = 0;
		bool first = true;

		for (;;) {
			__u32 count = BH_BATCH;

			err = bpf_map_lookup_batch(bpf_map__fd(bh_flows_map(p, which)), first ? NULL : &batch,
						   &batch, keys, vals, &count, &bopts);
			first = false;
			*live += count;
			if (err == -ENOENT) {
				err = 0;
				break;
			}
			if (err) {
				bh_fail(err, "read counters: count the entries of bh_flows_%d", which);
				goto cleanup;
			}
		}
	}
cleanup:
	free(keys);
	free(vals);
	return err;
}

int bh_probe_read_counters(struct bh_probe *p, struct bh_probe_counters *out)
{
	__u64 slot[BH_STAT_MAX] = {};
	__u64 *percpu = NULL;
	__u64 live = 0, pending, accounted;
	int err = 0;

	bh_err_buf[0] = '\0';
	if (!p || !out)
		return bh_fail(-EINVAL, "read counters: bad handle or buffer");
	percpu = calloc(p->ncpus, sizeof(*percpu));
	if (!percpu) {
		err = bh_fail(-ENOMEM, "read counters: allocate the per-CPU buffer");
		goto cleanup;
	}
	/* Created first, live second: a flow created in between lowers the estimate, never raises it. */
	for (__u32 i = 0; i < BH_STAT_MAX; i++) {
		err = bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.bh_probe_stats), &i, percpu);
		if (err) {
			bh_fail(err, "read counters: read bh_probe_stats slot %u", i);
			goto cleanup;
		}
		for (int c = 0; c < p->ncpus; c++)
			slot[i] += percpu[c];
	}
	err = bh_flows_count(p, &live);
	if (err)
		goto cleanup;

	/* Every created flow was handed out, is staged here, is still in the map, or was evicted. */
	pending = p->staged - p->next;
	accounted = p->drained + pending + live;
	if (slot[BH_STAT_FLOWS_CREATED] > accounted && slot[BH_STAT_FLOWS_CREATED] - accounted > p->evicted)
		p->evicted = slot[BH_STAT_FLOWS_CREATED] - accounted;

	memset(out, 0, sizeof(*out));
	out->flows_created = slot[BH_STAT_FLOWS_CREATED];
	out->flows_drained = p->drained;
	out->flows_evicted = p->evicted;
	out->flows_full = slot[BH_STAT_FLOWS_FULL];
	out->ring_full = slot[BH_STAT_RING_FULL];
	out->unparsed = slot[BH_STAT_UNPARSED];
	out->non_ip = slot[BH_STAT_NON_IP];
	out->drops = slot[BH_STAT_DROPS];
	out->drops_no_tuple = slot[BH_STAT_DROPS_NO_TUPLE];
cleanup:
	free(percpu);
	return err;
}

int bh_probe_enable_run_stats(struct bh_probe *p)
{
	int fd;

	bh_err_buf[0] = '\0';
	if (!p)
		return bh_fail(-EINVAL, "enable run stats: handle is NULL");
	if (p->stats_fd >= 0)
		return 0;
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0)
		return bh_fail(fd, "enable run stats: BPF_ENABLE_STATS");
	p->stats_fd = fd;
	return 0;
}

static int bh_prog_info(struct bpf_program *prog, __u64 *runs, __u64 *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	if (err)
		return bh_fail(err, "read prog stats: get info of %s", bpf_program__name(prog));
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

int bh_probe_read_prog_stats(struct bh_probe *p, struct bh_prog_stats *out)
{
	struct bh_prog_stats s = {};
	int err;

	bh_err_buf[0] = '\0';
	if (!p || !out)
		return bh_fail(-EINVAL, "read prog stats: bad handle or buffer");
	err = bh_prog_info(p->skel->progs.bh_from_pod, &s.from_pod_runs, &s.from_pod_ns);
	if (err)
		goto cleanup;
	err = bh_prog_info(p->skel->progs.bh_to_pod, &s.to_pod_runs, &s.to_pod_ns);
	if (err)
		goto cleanup;
	err = bh_prog_info(p->skel->progs.bh_nf_drop, &s.nf_drop_runs, &s.nf_drop_ns);
	if (err)
		goto cleanup;
	*out = s;
cleanup:
	return err;
}

void bh_probe_close(struct bh_probe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nlinks; i++)
		bh_tc_unlink(&p->links[i]);
	free(p->links);
	ring_buffer__free(p->rb);
	bpf_link__destroy(p->drop_link);
	bh_probe_bpf__destroy(p->skel);
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	free(p->keys);
	free(p->vals);
	free(p);
}

int bh_ifindex(const char *name)
{
	unsigned int idx;

	bh_err_buf[0] = '\0';
	if (!name || !*name)
		return bh_fail(-EINVAL, "ifindex: empty interface name");
	idx = if_nametoindex(name);
	if (!idx)
		return bh_fail(-errno, "ifindex: find interface %s", name);
	return (int)idx;
}

__u64 bh_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* ---- layout, for cven/src/probe/abi.test.ts ---- */

struct bh_abi_field {
	const char	*type;
	const char	*field;	/* NULL: the struct's size */
	long		value;
};

#define BH_SIZE(T)	{ #T, NULL, (long)sizeof(struct T) }
#define BH_FIELD(T, F)	{ #T, #F, (long)__builtin_offsetof(struct T, F) }

static const struct bh_abi_field bh_abi[] = {
	BH_SIZE(bh_flow_key),
	BH_FIELD(bh_flow_key, saddr), BH_FIELD(bh_flow_key, daddr), BH_FIELD(bh_flow_key, sport),
	BH_FIELD(bh_flow_key, dport), BH_FIELD(bh_flow_key, ifindex), BH_FIELD(bh_flow_key, proto),
	BH_FIELD(bh_flow_key, dir), BH_FIELD(bh_flow_key, pad),
	BH_SIZE(bh_flow_stats),
	BH_FIELD(bh_flow_stats, packets), BH_FIELD(bh_flow_stats, bytes),
	BH_FIELD(bh_flow_stats, first_seen_ns), BH_FIELD(bh_flow_stats, last_seen_ns),
	BH_FIELD(bh_flow_stats, tcp_flags), BH_FIELD(bh_flow_stats, conns),
	BH_FIELD(bh_flow_stats, syn_seq), BH_FIELD(bh_flow_stats, pad),
	BH_SIZE(bh_flow_record),
	BH_FIELD(bh_flow_record, key), BH_FIELD(bh_flow_record, pad), BH_FIELD(bh_flow_record, stats),
	BH_SIZE(bh_drop_record),
	BH_FIELD(bh_drop_record, saddr), BH_FIELD(bh_drop_record, daddr), BH_FIELD(bh_drop_record, sport),
	BH_FIELD(bh_drop_record, dport), BH_FIELD(bh_drop_record, proto), BH_FIELD(bh_drop_record, flags),
	BH_FIELD(bh_drop_record, pad), BH_FIELD(bh_drop_record, netns_ino),
	BH_FIELD(bh_drop_record, ifindex), BH_FIELD(bh_drop_record, reason), BH_FIELD(bh_drop_record, len),
	BH_FIELD(bh_drop_record, ts_ns),
	BH_SIZE(bh_probe_counters),
	BH_FIELD(bh_probe_counters, flows_created), BH_FIELD(bh_probe_counters, flows_drained),
	BH_FIELD(bh_probe_counters, flows_evicted), BH_FIELD(bh_probe_counters, flows_full),
	BH_FIELD(bh_probe_counters, ring_full), BH_FIELD(bh_probe_counters, unparsed),
	BH_FIELD(bh_probe_counters, non_ip), BH_FIELD(bh_probe_counters, drops),
	BH_FIELD(bh_probe_counters, drops_no_tuple),
	BH_SIZE(bh_prog_stats),
	BH_FIELD(bh_prog_stats, from_pod_runs), BH_FIELD(bh_prog_stats, from_pod_ns),
	BH_FIELD(bh_prog_stats, to_pod_runs), BH_FIELD(bh_prog_stats, to_pod_ns),
	BH_FIELD(bh_prog_stats, nf_drop_runs), BH_FIELD(bh_prog_stats, nf_drop_ns),
	BH_SIZE(bh_probe_opts),
	BH_FIELD(bh_probe_opts, flows_max_entries), BH_FIELD(bh_probe_opts, ring_bytes),
};

static long bh_abi_lookup(const char *type, const char *field)
{
	for (size_t i = 0; i < sizeof(bh_abi) / sizeof(bh_abi[0]); i++) {
		const struct bh_abi_field *f = &bh_abi[i];

		if (strcmp(f->type, type) != 0)
			continue;
		if ((!field && !f->field) || (field && f->field && strcmp(f->field, field) == 0))
			return f->value;
	}
	return -ENOENT;
}

long bh_abi_sizeof(const char *type)
{
	return type ? bh_abi_lookup(type, NULL) : -EINVAL;
}

long bh_abi_offsetof(const char *type, const char *field)
{
	return type && field ? bh_abi_lookup(type, field) : -EINVAL;
}
