// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The console's content security policy: one policy for both places that
 * serve the renderer — the PCE (web console at `/`) and the desktop app's
 * window (`app://bulkhead/`). Scripts and connections same-origin only;
 * WebAssembly for sql.js; no plugins, framing, base or form targets. Pure.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
