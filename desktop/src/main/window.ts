// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The desktop window's settings and content security policy, as data so a
 * test can hold them to the rules (context isolation, sandbox, no Node in
 * the renderer, web security on).
 */

/** The same policy the PCE sends with the web console (one definition, in the wire contract). */
export { CONSOLE_CSP as WINDOW_CSP } from '@bulkhead/pce/api';

export function windowOptions(preload: string) {
  return {
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 640,
    title: 'Bulkhead',
    backgroundColor: '#0f172a',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  } as const;
}
