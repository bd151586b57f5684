// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// One vitest run for every part. Tests import other parts' source through the
// same package paths the code uses (`@bulkhead/pce/api`), aliased to src.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@bulkhead/pce/api': fileURLToPath(new URL('./pce/src/api/index.ts', import.meta.url)) },
  },
  test: {
    include: ['{pce,cven,kubelink,desktop}/src/**/*.test.ts', 'tests/**/*.test.ts'],
    pool: 'forks',
    // One file at a time: the privileged and end-to-end files measure real packets and time
    // on a 2-core machine; run side by side they starve each other (retransmits, late agents).
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
