// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The Electron main process, kept thin: it registers the `app://bulkhead/`
 * scheme for the built renderer, opens one window with context isolation,
 * the sandbox and a strict content security policy, refuses navigation and
 * new windows, and routes the IPC channels to `ipc-handlers.ts` (where all
 * the logic is, tested without Electron). Started by `npm run desktop`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IPC_CHANNELS } from '../common/ipc.js';
import { ConnectionStore } from './connection-store.js';
import { APP_ORIGIN, createIpcHandlers } from './ipc-handlers.js';
import { windowOptions, WINDOW_CSP } from './window.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- Electron's own types are optional here (see electron-api.ts) */
const electron: any = (await import('electron' as string)).default;
const { app, BrowserWindow, dialog, ipcMain, net, protocol, safeStorage, session } = electron;

const RENDERER = fileURLToPath(new URL('../renderer/', import.meta.url));

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

await app.whenReady();

protocol.handle('app', (req: Request) => {
  const path = normalize(join(RENDERER, decodeURIComponent(new URL(req.url).pathname)));
  if (!path.startsWith(RENDERER) || path.includes(`${sep}..${sep}`)) return new Response('not found', { status: 404 });
  const file = path.endsWith(sep) ? join(path, 'index.html') : path;
  return net.fetch(pathToFileURL(file).toString());
});
session.defaultSession.webRequest.onHeadersReceived((details: any, done: (r: any) => void) =>
  done({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [WINDOW_CSP] } }),
);
session.defaultSession.setPermissionRequestHandler((_wc: unknown, _perm: string, cb: (ok: boolean) => void) =>
  cb(false),
);

const handlers = createIpcHandlers({
  connections: new ConnectionStore(app.getPath('userData'), safeStorage),
  async saveFile(suggestedName, bytes) {
    const r = await dialog.showSaveDialog({
      defaultPath: suggestedName,
      filters: [{ name: 'Snapshot', extensions: ['sqlite'] }],
    });
    if (r.canceled || !r.filePath) return null;
    await writeFile(r.filePath, bytes);
    return r.filePath as string;
  },
  async openFile() {
    const r = await dialog.showOpenDialog({
      properties: ['openFile'],
      filters: [{ name: 'Snapshot', extensions: ['sqlite', 'db'] }],
    });
    if (r.canceled || !r.filePaths[0]) return null;
    return { name: basename(r.filePaths[0]), bytes: new Uint8Array(await readFile(r.filePaths[0])) };
  },
});
for (const channel of IPC_CHANNELS)
  ipcMain.handle(channel, (event: any, arg: unknown) => handlers.handle(channel, event, arg));

const win = new BrowserWindow(windowOptions(fileURLToPath(new URL('../preload/preload.cjs', import.meta.url))));
win.webContents.on('will-navigate', (e: { preventDefault(): void }) => e.preventDefault());
win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
await win.loadURL(`${APP_ORIGIN}/index.html`);
app.on('window-all-closed', () => app.quit());
