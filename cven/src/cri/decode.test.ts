// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// containerd's verbose sandbox status, decoded; shapes as containerd 1.6 returns them
// (the lab's privileged tests read real ones through the same client).
import { describe, expect, it } from 'vitest';
import { decodeSandboxStatus } from './client.js';

const status = (ip: string) => ({
  id: 's',
  metadata: { name: 'p', uid: 'u', namespace: 'n' },
  state: 'SANDBOX_READY' as const,
  createdAt: 0,
  labels: {},
  annotations: {},
  network: { ip },
});

describe('decodeSandboxStatus', () => {
  it('reads the pod IP and the network namespace bind mount', () => {
    const info = {
      pid: 42,
      runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/state/netns/cni-1' }] } },
    };
    expect(decodeSandboxStatus({ status: status('198.19.0.5'), info: { info: JSON.stringify(info) } })).toEqual({
      ip: '198.19.0.5',
      netnsPath: '/state/netns/cni-1',
      hostNetwork: false,
    });
  });

  it('falls back to the pause process namespace when the spec names no path', () => {
    const info = { pid: 42, runtimeSpec: { linux: { namespaces: [{ type: 'network' }] } } };
    expect(decodeSandboxStatus({ status: status('198.19.0.5'), info: { info: JSON.stringify(info) } }).netnsPath).toBe(
      '/proc/42/ns/net',
    );
  });

  it('knows a host-network sandbox by its config (NODE) or by the missing network namespace', () => {
    const byConfig = {
      config: { linux: { security_context: { namespace_options: { network: 2 } } } },
      runtimeSpec: { linux: { namespaces: [] } },
    };
    const bySpec = { pid: 7, runtimeSpec: { linux: { namespaces: [{ type: 'pid' }] } } };
    for (const info of [byConfig, bySpec])
      expect(decodeSandboxStatus({ status: status('198.18.0.10'), info: { info: JSON.stringify(info) } })).toEqual({
        ip: '',
        netnsPath: '',
        hostNetwork: true,
      });
  });
});
