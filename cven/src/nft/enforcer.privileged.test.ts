// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: creates network namespaces, veths and nft tables (root). Real packets, real nft.
import { createServer, type Server } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { WorkloadPolicy } from '@bulkhead/pce/api';
import { createPodNs, type PodNs } from '../test-support/netns.js';
import { workloadTable, type TableTarget } from '../policy/desired.js';
import { Enforcer } from './enforcer.js';
import { SystemNftRunner } from './runner.js';

const isRoot = process.getuid?.() === 0;
const RULE = '/orgs/1/sec_policy/active/rule_sets/7/sec_rules/9';

/** A TCP server in the test's (host) namespace, answering "pong". */
async function hostServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.end('pong'));
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Connect from inside the pod to the host side of its veth; "pong" when the connection got through. */
async function connectFromPod(pod: PodNs, port: number): Promise<string> {
  const r = await pod
    .exec('timeout', ['2', 'bash', '-c', `exec 3<>/dev/tcp/${pod.hostIp}/${port}; cat <&3`], 5000)
    .catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return r.stdout.trim() || 'timed_out';
}

function target(
  pod: PodNs,
  peers: string[],
  port: number,
  mode: WorkloadPolicy['enforcement_mode'] = 'full',
): TableTarget {
  const w: WorkloadPolicy = {
    href: '/orgs/1/container_workloads/t',
    kind: 'container_workload',
    enforcement_mode: mode,
    visibility_level: 'flow_summary',
    addresses: [pod.podIp],
    inbound: [],
    outbound: [{ action: 'allow', peers: ['lg_000000000001'], services: [{ proto: 6, port }], rule: RULE }],
  };
  const sets = { lg_000000000001: { name: 'lg_000000000001', addresses: peers, workloads: [] } };
  return { key: 'pod', netnsPath: pod.netnsPath, label: 'test/pod', workload: w.href, table: workloadTable(w, sets) };
}

describe.skipIf(!isRoot)('Enforcer (privileged)', () => {
  it('blocks TCP to a peer outside the allowed set in full mode, and lets it through once the set grows', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const { server, port } = await hostServer();
    onTestFinished(() => void server.close());
    const enforcer = new Enforcer(new SystemNftRunner());

    expect(await connectFromPod(pod, port)).toBe('pong'); // no table yet
    const denied = await enforcer.converge([target(pod, ['198.18.255.1/32'], port)], []);
    expect(denied.errors).toEqual([]);
    expect(await connectFromPod(pod, port)).toBe('timed_out');

    // The peer joins the set: an element change, not a rule change.
    await enforcer.converge([target(pod, ['198.18.255.1/32', `${pod.hostIp}/32`], port)], []);
    expect(await connectFromPod(pod, port)).toBe('pong');
    const listing = (await new SystemNftRunner().list(pod.netnsPath))!;
    expect(listing).toContain(`comment "${RULE}"`);
    expect(listing).toContain(pod.hostIp);
  });

  it('visibility_only blocks nothing', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const { server, port } = await hostServer();
    onTestFinished(() => void server.close());
    const enforcer = new Enforcer(new SystemNftRunner());
    await enforcer.converge([target(pod, [], port, 'visibility_only')], []);
    expect(await new SystemNftRunner().list(pod.netnsPath)).toContain('policy accept');
    expect(await connectFromPod(pod, port)).toBe('pong');
  });

  it('restores a table someone flushed or deleted, and reports it', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const allowed = await hostServer();
    const other = await hostServer();
    onTestFinished(() => void allowed.server.close());
    onTestFinished(() => void other.server.close());
    const nft = new SystemNftRunner();
    const enforcer = new Enforcer(nft);
    await enforcer.converge([target(pod, [`${pod.hostIp}/32`], allowed.port)], []);
    expect(await enforcer.checkTamper()).toEqual([]);
    expect(await connectFromPod(pod, allowed.port)).toBe('pong');

    // Flushing keeps the chains' drop policy but loses the allow rule.
    await pod.exec('nft', ['flush', 'table', 'inet', 'bulkhead']);
    expect(await connectFromPod(pod, allowed.port)).toBe('timed_out');
    const changed = await enforcer.checkTamper();
    expect(changed.map((f) => [f.what, f.restored])).toEqual([['changed', true]]);
    expect(await connectFromPod(pod, allowed.port)).toBe('pong');

    // Deleting the table opens everything until it is restored.
    await pod.exec('nft', ['delete', 'table', 'inet', 'bulkhead']);
    expect(await connectFromPod(pod, other.port)).toBe('pong');
    expect((await enforcer.checkTamper()).map((f) => f.what)).toEqual(['deleted']);
    expect(await connectFromPod(pod, other.port)).toBe('timed_out');
    expect(await connectFromPod(pod, allowed.port)).toBe('pong');
  });

  it('removes its table when the workload stops enforcing, and a stale one it did not write', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const nft = new SystemNftRunner();
    const first = new Enforcer(nft);
    await first.converge([target(pod, [], 80)], []);
    await first.converge([], []);
    expect(await nft.list(pod.netnsPath)).toBeNull();

    await first.converge([target(pod, [], 80)], []);
    // A new agent process (restart) that finds the pod no longer enforcing.
    const second = new Enforcer(nft);
    const r = await second.converge([], [{ key: 'pod', netnsPath: pod.netnsPath, label: 'test/pod' }]);
    expect(r.removed).toEqual(['pod']);
    expect(await nft.list(pod.netnsPath)).toBeNull();
  });

  it('reports the namespace and nft message when nft refuses a table, and keeps going', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const enforcer = new Enforcer(new SystemNftRunner());
    const bad = target(pod, ['not-an-address'], 80);
    const r = await enforcer.converge([bad], []);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toMatch(/nft refused the table for test\/pod \(netns \/run\/netns\/bh-/);
  });
});
