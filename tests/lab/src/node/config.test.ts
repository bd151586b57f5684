// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { renderCniConflist, renderContainerdConfig } from './config.js';

describe('renderContainerdConfig', () => {
  const toml = renderContainerdConfig({
    root: '/l/n0/root',
    state: '/l/n0/state',
    runcRoot: '/l/n0/runc',
    socket: '/l/n0/containerd.sock',
    cniConfDir: '/l/n0/cni',
  });

  it('keeps root, state, socket and runc root private to the node', () => {
    expect(toml).toContain('root = "/l/n0/root"');
    expect(toml).toContain('state = "/l/n0/state"');
    expect(toml).toContain('address = "/l/n0/containerd.sock"');
    expect(toml).toContain('Root = "/l/n0/runc"');
  });

  it('applies the measured workarounds, with netns_mounts_under_state_dir before the sub-tables', () => {
    const cri = toml.indexOf('[plugins."io.containerd.grpc.v1.cri"]');
    const key = toml.indexOf('netns_mounts_under_state_dir = true');
    const sub = toml.indexOf('[plugins."io.containerd.grpc.v1.cri".containerd]');
    expect(cri).toBeLessThan(key);
    expect(key).toBeLessThan(sub);
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('disable_apparmor = true');
    expect(toml).toContain('SystemdCgroup = false');
  });
});

describe('renderCniConflist', () => {
  it('hands out addresses from the node pod subnet through the bridge plugin, then portmap', () => {
    const c = JSON.parse(renderCniConflist('198.19.0.0/24', '198.19.0.1')) as {
      plugins: { type: string; ipam?: { ranges: { subnet: string }[][] } }[];
    };
    expect(c.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[0]!.ipam!.ranges[0]![0]!.subnet).toBe('198.19.0.0/24');
  });
});
