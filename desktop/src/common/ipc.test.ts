// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The IPC surface refuses what a compromised renderer might send, naming the argument.
import { describe, expect, it } from 'vitest';
import { validateIpcArgument } from './ipc.js';

describe('IPC argument validation', () => {
  it('lets a well-formed API request through', () => {
    const arg = {
      connectionId: 'abc-1',
      request: { method: 'GET', path: '/orgs/1/labels', query: { max_results: 5 } },
    };
    expect(validateIpcArgument('bulkhead:pce:request', arg)).toEqual(arg);
  });

  it.each([
    [{ connectionId: '../x', request: { method: 'GET', path: '/orgs/1/labels' } }, /connectionId/],
    [{ connectionId: 'a', request: { method: 'PATCH', path: '/orgs/1/labels' } }, /request.method/],
    [{ connectionId: 'a', request: { method: 'GET', path: 'https://evil.example/' } }, /request.path/],
    [{ connectionId: 'a', request: { method: 'GET', path: '/orgs/1/../../etc' } }, /request.path/],
    [{ connectionId: 'a', request: { method: 'GET', path: '/orgs/1/x', accept: 'html' } }, /request.accept/],
    [{ connectionId: 'a', request: { method: 'GET', path: '/orgs/1/x', query: { a: {} } } }, /request.query.a/],
    [{ connectionId: 'a' }, /request: an object/],
  ])('refuses %j', (arg, msg) => {
    expect(() => validateIpcArgument('bulkhead:pce:request', arg)).toThrow(msg);
  });

  it('validates a connection as the form does, and a snapshot file name', () => {
    expect(() =>
      validateIpcArgument('bulkhead:connections:save', {
        name: 'p',
        url: 'http://pce:8443',
        ca: '',
        username: 'api_1',
        secret: 's',
      }),
    ).toThrow(/HTTPS only/);
    expect(() =>
      validateIpcArgument('bulkhead:connections:save', { name: 'p', url: 'https://pce:8443', username: 'api_1' }),
    ).toThrow(/secret: the API key secret is required/);
    expect(() =>
      validateIpcArgument('bulkhead:snapshot:save', { bytes: new Uint8Array(1), suggestedName: '../../x' }),
    ).toThrow(/suggestedName/);
    expect(() => validateIpcArgument('bulkhead:connections:list', { x: 1 })).toThrow(/no argument/);
    expect(() => validateIpcArgument('bulkhead:nope' as never, undefined)).toThrow(/no such channel/);
  });
});
