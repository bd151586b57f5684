/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * Options of bh_probe_open() (libbulkhead). Zero means "the default".
 *
 * TypeScript twin: cven/src/probe/abi.ts (PROBE_OPTS); compared by
 * cven/src/probe/abi.test.ts. The defaults are explained in bpf/README.md
 * ("Map sizes") and are the ones the programs declare in bpf/progs/.
 */
#ifndef BH_PROBE_H
#define BH_PROBE_H

#include "types.h"

#define BH_FLOWS_MAX_DEFAULT	65536		/* bh_flows entries */
#define BH_RING_BYTES_DEFAULT	(256 * 1024)	/* bh_drops bytes: ~3600 records (64 B + 8 B header) */

struct bh_probe_opts {
	__u32	flows_max_entries;	/* 0: bh_flows entries; 0 = BH_FLOWS_MAX_DEFAULT */
	__u32	ring_bytes;		/* 4: bh_drops bytes, a power of two >= the page size; 0 = default */
};					/* 8 */

_Static_assert(sizeof(struct bh_probe_opts) == 8, "bh_probe_opts: keep aligned with abi.ts");

#endif /* BH_PROBE_H */
