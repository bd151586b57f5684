// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Vite's client types (`?url` imports, `import.meta.env`) for the renderer's type check.
/// <reference types="vite/client" />
