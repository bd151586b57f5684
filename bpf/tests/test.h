/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copyright The Bulkhead Authors */
/*
 * The smallest test harness that names its cases: CASE() starts one,
 * CHECK() records a failure with the expression and a message, and
 * bh_test_summary() prints the totals and gives the exit status.
 */
#ifndef BH_TEST_H
#define BH_TEST_H

#include <stdio.h>

static int bh_test_failed, bh_test_checks, bh_test_cases;
static const char *bh_test_case = "";

#define CASE(name) \
	do { bh_test_case = (name); bh_test_cases++; printf("case: %s\n", bh_test_case); } while (0)

#define CHECK(cond, ...)							\
	do {									\
		bh_test_checks++;						\
		if (!(cond)) {							\
			bh_test_failed++;					\
			printf("  FAIL [%s] %s:%d: %s: ", bh_test_case,		\
			       __FILE__, __LINE__, #cond);			\
			printf(__VA_ARGS__);					\
			printf("\n");						\
		}								\
	} while (0)

static inline int bh_test_summary(const char *suite)
{
	printf("%s: %d cases, %d checks, %d failed\n", suite, bh_test_cases, bh_test_checks,
	       bh_test_failed);
	return bh_test_failed ? 1 : 0;
}

#endif /* BH_TEST_H */
