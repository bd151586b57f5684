// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab's network plumbing in the kernel: the underlay bridge in the root
 * namespace, one network namespace per node (veth `eth0` on the underlay,
 * forwarding on, a route per other node's pod subnet, source NAT for pod
 * egress), the outside-world namespace. Every function here creates only
 * names from the plan; the `remove*` functions delete only those names and
 * tolerate their absence (so `lab down` works after a partial `up`).
 */
import { existsSync } from 'node:fs';
import type { LabPlan, NodePlan } from '../plan.js';
import { inNetns, ipJson, run } from '../sh.js';

export const netnsPath = (name: string): string => `/run/netns/${name}`;

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const r = await run(netns ? ['ip', '-n', netns, 'link', 'show', name] : ['ip', 'link', 'show', name], {
    allowFail: true,
  });
  return r.code === 0;
}

export async function netnsExists(name: string): Promise<boolean> {
  const list = await ipJson<{ name: string }>(['netns', 'list']).catch(() => []);
  return list.some((n) => n.name === name) || existsSync(netnsPath(name));
}

/** Names from the plan that already exist on the host (so are not ours to take). */
export async function conflicts(plan: LabPlan): Promise<string[]> {
  const found: string[] = [];
  for (const l of [plan.bridge, plan.outside.hostVeth, ...plan.nodes.map((n) => n.hostVeth)])
    if (await linkExists(l)) found.push(`link ${l}`);
  for (const ns of [plan.outside.netns, ...plan.nodes.map((n) => n.name)])
    if (await netnsExists(ns)) found.push(`netns ${ns}`);
  return found;
}

/** CIDRs in use by the root namespace's addresses and routes. */
export async function rootCIDRs(): Promise<string[]> {
  const out: string[] = [];
  const addrs = await ipJson<{ addr_info?: { family: string; local: string; prefixlen: number }[] }>(['addr']);
  for (const a of addrs)
    for (const i of a.addr_info ?? []) if (i.family === 'inet') out.push(`${i.local}/${i.prefixlen}`);
  const routes = await ipJson<{ dst: string }>(['route']);
  for (const r of routes) if (r.dst && r.dst !== 'default') out.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  return out;
}

export async function createUnderlay(plan: LabPlan): Promise<void> {
  await run(['ip', 'link', 'add', plan.bridge, 'type', 'bridge']);
  // Bridged lab frames skip the host's iptables (br_netfilter is loaded here).
  await run(['ip', 'link', 'set', plan.bridge, 'type', 'bridge', 'nf_call_iptables', '0'], { allowFail: true });
  await run(['ip', 'addr', 'add', `${plan.hostIp}/24`, 'dev', plan.bridge]);
  await run(['ip', 'link', 'set', plan.bridge, 'up']);
}

/** A network namespace attached to the underlay with `eth0` at `ips[0]` (more addresses optional). */
async function attachNamespace(plan: LabPlan, netns: string, hostVeth: string, ips: string[]): Promise<void> {
  await run(['ip', 'netns', 'add', netns]);
  await run(['ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await run(['ip', 'link', 'set', hostVeth, 'master', plan.bridge, 'up']);
  const p = netnsPath(netns);
  for (const ip of ips) await inNetns(p, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  await inNetns(p, ['ip', 'link', 'set', 'lo', 'up']);
  await inNetns(p, ['ip', 'link', 'set', 'eth0', 'up']);
}

/** The node's namespace, its underlay address, forwarding, routes to other nodes' pods, SNAT for egress. */
export async function createNodeNetwork(plan: LabPlan, node: NodePlan): Promise<void> {
  await attachNamespace(plan, node.name, node.hostVeth, [node.ip]);
  const p = netnsPath(node.name);
  await inNetns(p, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const other of plan.nodes) {
    if (other.index === node.index) continue;
    await inNetns(p, ['ip', 'route', 'add', other.podCIDR, 'via', other.ip, 'dev', 'eth0']);
  }
  // Pod egress to anything outside the cluster's pod network leaves with the
  // node's address, as on a real node (kube-proxy / CNI masquerade).
  await inNetns(p, ['nft', '-f', '-'], {
    input: `table ip bh_lab_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${node.podCIDR} ip daddr != ${plan.clusterCIDR} oifname "eth0" masquerade
  }
}
`,
  });
  // The host reaches every pod through its node.
  await run(['ip', 'route', 'add', node.podCIDR, 'via', node.ip, 'dev', plan.bridge]);
}

/** Addresses the outside world answers on: `.254` plus the names' addresses `.250`-`.253`. */
export function outsideAddresses(plan: LabPlan): { names: Record<string, string>; ips: string[] } {
  const base = plan.outside.ip.split('.').slice(0, 3).join('.');
  const names = {
    'api.example.test': `${base}.250`,
    'www.example.test': `${base}.251`,
    'updates.example.test': `${base}.252`,
    'evil.example.test': `${base}.253`,
    'outside.lab.test': plan.outside.ip,
  };
  return { names, ips: [plan.outside.ip, `${base}.250`, `${base}.251`, `${base}.252`, `${base}.253`] };
}

export async function createOutsideNetwork(plan: LabPlan): Promise<void> {
  await attachNamespace(plan, plan.outside.netns, plan.outside.hostVeth, outsideAddresses(plan).ips);
}

/** Delete the plan's namespaces, links and routes that exist; ignore the rest. */
export async function removeNetwork(plan: LabPlan): Promise<void> {
  for (const ns of [...plan.nodes.map((n) => n.name), plan.outside.netns])
    if (await netnsExists(ns)) await run(['ip', 'netns', 'del', ns], { allowFail: true });
  for (const l of [...plan.nodes.map((n) => n.hostVeth), plan.outside.hostVeth, plan.bridge])
    if (await linkExists(l)) await run(['ip', 'link', 'del', l], { allowFail: true });
  // Routes via the bridge went with it; these only remain if another link now holds the next hops.
  for (const n of plan.nodes) {
    const routes = await ipJson<{ dst: string; dev?: string }>(['route', 'show', n.podCIDR]).catch(() => []);
    if (routes.some((r) => r.dev === plan.bridge)) await run(['ip', 'route', 'del', n.podCIDR], { allowFail: true });
  }
}
