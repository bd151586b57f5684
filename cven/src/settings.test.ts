// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { CVEN_SETTINGS, parseHostPort, resolveSettings } from './settings.js';

const required = { pce: 'https://pce:8443', ca: '/ca.pem', clusterId: 'c1', nodeName: 'n0' };

describe('resolveSettings', () => {
  it('names every environment variable BULKHEAD_ + the flag in upper snake case', () => {
    expect(CVEN_SETTINGS.find((s) => s.flag === 'cluster-id')?.env).toBe('BULKHEAD_CLUSTER_ID');
    expect(CVEN_SETTINGS.every((s) => s.env === `BULKHEAD_${s.flag.replace(/-/g, '_').toUpperCase()}`)).toBe(true);
  });

  it('takes flags over the environment over defaults', () => {
    const s = resolveSettings(
      { ...required, stateDir: '/flag' },
      { BULKHEAD_STATE_DIR: '/env', BULKHEAD_LOG_LEVEL: 'debug' },
    );
    expect(s['state-dir']).toBe('/flag');
    expect(s['log-level']).toBe('debug');
    expect(s['health-listen']).toBe('127.0.0.1:9102');
  });

  it('reads everything from the environment (the chart)', () => {
    const s = resolveSettings(
      {},
      { BULKHEAD_PCE: 'https://p:1', BULKHEAD_CA: '/c', BULKHEAD_CLUSTER_ID: 'x', BULKHEAD_NODE_NAME: 'n' },
    );
    expect([s.pce, s['cluster-id'], s['node-name']]).toEqual(['https://p:1', 'x', 'n']);
  });

  it('names every missing setting and both ways to give it', () => {
    expect(() => resolveSettings({ pce: 'https://p:1' }, {})).toThrow(
      'missing settings: --ca (or BULKHEAD_CA), --cluster-id (or BULKHEAD_CLUSTER_ID), --node-name (or BULKHEAD_NODE_NAME)',
    );
  });

  it('refuses an unknown log level by name', () => {
    expect(() => resolveSettings({ ...required, logLevel: 'loud' }, {})).toThrow('--log-level: "loud" is not one of');
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9102', '127.0.0.1', 9102],
    ['[::1]:80', '::1', 80],
    ['localhost:1', 'localhost', 1],
  ])('parses %s', (v, host, port) => expect(parseHostPort(v, '--x')).toEqual({ host, port }));

  it.each(['9102', 'host:', 'host:0', 'host:70000'])('refuses %s naming the flag', (v) =>
    expect(() => parseHostPort(v, '--health-listen')).toThrow(`--health-listen: "${v}" is not HOST:PORT`),
  );
});
