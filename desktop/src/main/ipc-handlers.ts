// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The main process's IPC handlers, apart from Electron so they are tested
 * without it: each checks that its caller is the app's own page
 * (`app://bulkhead/`, never a navigated-to site), validates its argument
 * (common/ipc.ts), and answers. Errors cross IPC as messages that say what
 * to do; secrets never do.
 */
import { ApiError } from '../common/api.js';
import { validateIpcArgument, type IpcChannel, type IpcChannels } from '../common/ipc.js';
import type { ConnectionStore } from './connection-store.js';
import type { IpcCaller } from './electron-api.js';
import { pceRequest } from './pce-request.js';

/** The origin the app's own pages are served from (main.ts registers the scheme). */
export const APP_ORIGIN = 'app://bulkhead';

export function isTrustedCaller(caller: IpcCaller): boolean {
  const url = caller.senderFrame?.url;
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'app:' && u.host === 'bulkhead';
  } catch {
    return false;
  }
}

export interface HandlerDeps {
  connections: ConnectionStore;
  /** File dialogs (Electron's `dialog` in main.ts; files in tests). */
  saveFile(suggestedName: string, bytes: Uint8Array): Promise<string | null>;
  openFile(): Promise<{ name: string; bytes: Uint8Array } | null>;
  request?: typeof pceRequest;
}

type Handler<C extends IpcChannel> = (arg: IpcChannels[C][0]) => Promise<IpcChannels[C][1]>;

export function createIpcHandlers(deps: HandlerDeps): {
  handle(channel: string, caller: IpcCaller, arg: unknown): Promise<unknown>;
} {
  const request = deps.request ?? pceRequest;
  const handlers: { [C in IpcChannel]: Handler<C> } = {
    'bulkhead:connections:list': async () => deps.connections.list(),
    'bulkhead:connections:save': async (input) => deps.connections.save(input),
    'bulkhead:connections:remove': async ({ id }) => deps.connections.remove(id),
    'bulkhead:pce:request': async ({ connectionId, request: req }) => {
      const conn = deps.connections.get(connectionId);
      return request(conn, deps.connections.secret(connectionId), req);
    },
    'bulkhead:snapshot:save': async ({ bytes, suggestedName }) => {
      const path = await deps.saveFile(suggestedName, bytes);
      return path ? { path } : null;
    },
    'bulkhead:snapshot:open': async () => deps.openFile(),
  };
  return {
    async handle(channel, caller, arg) {
      if (!isTrustedCaller(caller))
        throw new Error(`refused ${channel}: the caller ${caller.senderFrame?.url ?? '(unknown)'} is not the app`);
      if (!(channel in handlers)) throw new Error(`no such channel ${channel}`);
      const c = channel as IpcChannel;
      const valid = validateIpcArgument(c, arg);
      try {
        return await (handlers[c] as Handler<typeof c>)(valid as never);
      } catch (err) {
        // ApiErrors carry status and hint across IPC in the message (Electron keeps only the message).
        if (err instanceof ApiError) throw new Error(JSON.stringify({ apiError: { ...err, message: err.message } }));
        throw err;
      }
    },
  };
}
