// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The renderer's build (Svelte 5 + Vite): src/renderer → dist/renderer, relative
// asset paths so the same files serve from the PCE (`/`) and from Electron
// (`app://bulkhead/`). The build copies them into pce/dist/console.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src/renderer', import.meta.url)),
  base: './',
  plugins: [svelte()],
  resolve: {
    alias: { '@bulkhead/pce/api': fileURLToPath(new URL('../pce/src/api/index.ts', import.meta.url)) },
  },
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
