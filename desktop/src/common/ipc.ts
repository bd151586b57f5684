// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The desktop app's IPC surface: the only channels the preload forwards, each
 * with its argument validator and result type. The main process validates
 * every argument again here (a compromised renderer is the threat model);
 * the renderer uses the types. Pure.
 */
import type { ApiRequest, ApiResponse, HttpMethod } from './api.js';
import { connectionProblems, type Connection, type ConnectionInput } from './connections.js';

/** Channel → [argument, result]. Keep aligned with preload/preload.cts (it forwards `bulkhead:` channels). */
export interface IpcChannels {
  'bulkhead:connections:list': [undefined, Connection[]];
  'bulkhead:connections:save': [ConnectionInput, Connection];
  'bulkhead:connections:remove': [{ id: string }, void];
  'bulkhead:pce:request': [{ connectionId: string; request: ApiRequest }, ApiResponse];
  'bulkhead:snapshot:save': [{ bytes: Uint8Array; suggestedName: string }, { path: string } | null];
  'bulkhead:snapshot:open': [undefined, { name: string; bytes: Uint8Array } | null];
}
export type IpcChannel = keyof IpcChannels;
export const IPC_CHANNELS = [
  'bulkhead:connections:list',
  'bulkhead:connections:save',
  'bulkhead:connections:remove',
  'bulkhead:pce:request',
  'bulkhead:snapshot:save',
  'bulkhead:snapshot:open',
] as const satisfies readonly IpcChannel[];

/** What the preload exposes as `window.bulkhead`. */
export interface BulkheadBridge {
  invoke<C extends IpcChannel>(channel: C, arg: IpcChannels[C][0]): Promise<IpcChannels[C][1]>;
}

export class IpcArgumentError extends Error {
  override name = 'IpcArgumentError';
}

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (channel: string, what: string): never => {
  throw new IpcArgumentError(`${channel}: ${what}`);
};
const ID = /^[A-Za-z0-9-]{1,64}$/;

/** Validate a channel's argument; throws `IpcArgumentError` naming what is wrong. */
export function validateIpcArgument<C extends IpcChannel>(channel: C, arg: unknown): IpcChannels[C][0] {
  switch (channel) {
    case 'bulkhead:connections:list':
    case 'bulkhead:snapshot:open':
      if (arg !== undefined && arg !== null) fail(channel, 'takes no argument');
      return undefined as IpcChannels[C][0];
    case 'bulkhead:connections:remove':
      if (!isObj(arg) || typeof arg.id !== 'string' || !ID.test(arg.id)) fail(channel, 'id: a connection id');
      return { id: (arg as { id: string }).id } as IpcChannels[C][0];
    case 'bulkhead:connections:save': {
      if (!isObj(arg)) fail(channel, 'a connection object');
      const a = arg as Record<string, unknown>;
      for (const k of ['name', 'url', 'ca', 'username', 'secret'])
        if (a[k] !== undefined && typeof a[k] !== 'string') fail(channel, `${k}: a string`);
      if (a.id !== undefined && (typeof a.id !== 'string' || !ID.test(a.id))) fail(channel, 'id: a connection id');
      const input = {
        ...(a.id ? { id: a.id as string } : {}),
        name: (a.name as string) ?? '',
        url: (a.url as string) ?? '',
        ca: (a.ca as string) ?? '',
        username: (a.username as string) ?? '',
        secret: (a.secret as string) ?? '',
      };
      const problems = connectionProblems(input, { secretRequired: !a.id });
      if (problems.length) fail(channel, problems.join('; '));
      return input as IpcChannels[C][0];
    }
    case 'bulkhead:pce:request': {
      if (!isObj(arg) || typeof arg.connectionId !== 'string' || !ID.test(arg.connectionId))
        fail(channel, 'connectionId: a connection id');
      const r = (arg as { request?: unknown }).request;
      if (!isObj(r)) fail(channel, 'request: an object');
      const req = r as Record<string, unknown>;
      if (!METHODS.includes(req.method as HttpMethod)) fail(channel, `request.method: one of ${METHODS.join(', ')}`);
      // Only the API, org-relative: the main process adds /api/v2 and never follows other paths.
      if (typeof req.path !== 'string' || !/^\/(orgs\/1\/|health$|users\/)[A-Za-z0-9_\-/.:%]*$/.test(req.path))
        fail(channel, 'request.path: an API path such as /orgs/1/labels');
      if ((req.path as string).includes('..')) fail(channel, 'request.path: may not contain ..');
      if (req.accept !== undefined && !['json', 'csv', 'bytes'].includes(req.accept as string))
        fail(channel, 'request.accept: json, csv or bytes');
      if (req.query !== undefined) {
        if (!isObj(req.query)) fail(channel, 'request.query: an object');
        for (const [k, v] of Object.entries(req.query as object))
          if (v !== undefined && typeof v !== 'string' && typeof v !== 'number')
            fail(channel, `request.query.${k}: a string or number`);
      }
      return {
        connectionId: (arg as { connectionId: string }).connectionId,
        request: req as unknown as ApiRequest,
      } as IpcChannels[C][0];
    }
    case 'bulkhead:snapshot:save': {
      if (!isObj(arg) || !(arg.bytes instanceof Uint8Array)) fail(channel, 'bytes: the snapshot file');
      const a = arg as { bytes: Uint8Array; suggestedName?: unknown };
      if (typeof a.suggestedName !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(a.suggestedName))
        fail(channel, 'suggestedName: a plain file name');
      return a as IpcChannels[C][0];
    }
    default:
      return fail(String(channel), 'no such channel');
  }
}
