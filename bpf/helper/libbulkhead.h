/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * libbulkhead: the C ABI the C-VEN calls through FFI to load, attach and
 * drain the flow probe. Every function returning int returns a negative
 * errno on failure and leaves a message naming the failed step in
 * bh_last_error() (per thread).
 *
 * TypeScript twin: cven/src/probe/ffi.ts (the prototypes, word for word).
 * Not thread-safe per handle: one caller thread per struct bh_probe.
 */
#ifndef BH_LIBBULKHEAD_H
#define BH_LIBBULKHEAD_H

#include <stddef.h>
#include "bulkhead/flow.h"
#include "bulkhead/drop.h"
#include "bulkhead/stats.h"
#include "bulkhead/probe.h"

#define BH_EXPORT __attribute__((visibility("default")))

struct bh_probe;

/* Open the object, size the maps, load it and start the drop recorder. opts may be NULL. */
BH_EXPORT int bh_probe_open(const struct bh_probe_opts *opts, struct bh_probe **out);
/* Attach bh_from_pod/bh_to_pod to ifindex, adopting an existing clsact qdisc. Idempotent. */
BH_EXPORT int bh_probe_attach(struct bh_probe *p, int ifindex);
/* Remove our two filters; remove the qdisc only if bh_probe_attach() created it. */
BH_EXPORT int bh_probe_detach(struct bh_probe *p, int ifindex);
/*
 * Move up to cap flow records into buf; returns how many (0: none left). A call that finds no
 * pass under way first swaps the two flow maps (bh_flows), waiting for running programs (an RCU
 * grace period, milliseconds); then it empties the map no program writes to any more.
 */
BH_EXPORT int bh_probe_drain_flows(struct bh_probe *p, struct bh_flow_record *buf, unsigned int cap);
/* Move up to cap drop records out of bh_drops into buf; returns how many. */
BH_EXPORT int bh_probe_drain_drops(struct bh_probe *p, struct bh_drop_record *buf, unsigned int cap);
/* Sum the loss counters. flows_evicted is exact when no packet arrives during the call. */
BH_EXPORT int bh_probe_read_counters(struct bh_probe *p, struct bh_probe_counters *out);
/* Have the kernel account run time of BPF programs (all of them) until bh_probe_close(). */
BH_EXPORT int bh_probe_enable_run_stats(struct bh_probe *p);
/* Run counts and ns of the probe's programs (zero unless run stats are enabled). */
BH_EXPORT int bh_probe_read_prog_stats(struct bh_probe *p, struct bh_prog_stats *out);
/* Detach from every interface still attached, unload, free. NULL is a no-op. */
BH_EXPORT void bh_probe_close(struct bh_probe *p);

/* The failure message of this thread's last failed call ("" if none). */
BH_EXPORT const char *bh_last_error(void);
/* if_nametoindex() as a negative errno API: -ENODEV when name does not exist. */
BH_EXPORT int bh_ifindex(const char *name);
/* CLOCK_MONOTONIC in ns: the clock of every *_ns field the programs write. */
BH_EXPORT __u64 bh_monotonic_ns(void);

/* Layout of the shared structs as this build compiled them (abi.test.ts). -ENOENT if unknown. */
BH_EXPORT long bh_abi_sizeof(const char *type);
BH_EXPORT long bh_abi_offsetof(const char *type, const char *field);

#endif /* BH_LIBBULKHEAD_H */
