// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The preload: a bridge only. It exposes `window.bulkhead.invoke(channel,
 * arg)` for the `bulkhead:` channels (common/ipc.ts lists them; the main
 * process checks the caller and every argument again). CommonJS because a
 * sandboxed preload cannot load ES modules or other local files.
 */
import type { BulkheadBridge } from '../common/ipc.js';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- sandboxed preloads load Electron with require
const { contextBridge, ipcRenderer } = require('electron') as {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: { invoke(channel: string, arg: unknown): Promise<unknown> };
};

const bridge: BulkheadBridge = {
  invoke: (channel, arg) => {
    if (typeof channel !== 'string' || !channel.startsWith('bulkhead:'))
      return Promise.reject(new Error(`not a Bulkhead channel: ${String(channel)}`));
    return ipcRenderer.invoke(channel, arg) as never;
  },
};
contextBridge.exposeInMainWorld('bulkhead', bridge);
