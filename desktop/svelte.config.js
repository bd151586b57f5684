// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Svelte compiler options for the renderer (runes everywhere).
export default { compilerOptions: { runes: true } };
