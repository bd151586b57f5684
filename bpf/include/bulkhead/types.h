/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * Fixed-width kernel types for the shared headers, from whichever side
 * includes them: BPF programs get them from the generated vmlinux.h, the
 * helper and the tests from <linux/types.h>. No TypeScript twin: abi.ts
 * spells the widths out field by field.
 */
#ifndef BH_TYPES_H
#define BH_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#endif /* BH_TYPES_H */
