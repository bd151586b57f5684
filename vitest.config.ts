// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// One vitest run for every part. Tests import other parts' source through the
// same package paths the code uses (`@bulkhead/pce/api`), aliased to src.
// Two projects: everything in Node, and the console's runes state classes
// (`*.svelte.test.ts`), compiled by Svelte for the browser and run in jsdom.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const alias = { '@bulkhead/pce/api': fileURLToPath(new URL('./pce/src/api/index.ts', import.meta.url)) };

export default defineConfig({
  resolve: { alias },
  test: {
    pool: 'forks',
    // One file at a time: the privileged and end-to-end files measure real packets and time
    // on a 2-core machine; run side by side they starve each other (retransmits, late agents).
    fileParallelism: false,
    maxWorkers: 1, // across both projects too
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['{pce,cven,kubelink,desktop}/src/**/*.test.ts', 'tests/**/*.test.ts'],
          exclude: ['**/*.svelte.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
        resolve: { alias, conditions: ['browser'] },
        test: {
          name: 'renderer',
          include: ['desktop/src/renderer/**/*.svelte.test.ts'],
          environment: 'jsdom',
        },
      },
    ],
  },
});
