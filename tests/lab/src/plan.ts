// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab's address and name plan: pure functions from (lab name, slot,
 * node count) to every name and address the lab will create. `lab up`
 * writes the plan to disk before it creates anything, so `lab down` knows
 * what is the lab's even after a crash half-way through `up`.
 *
 * Addresses (all in 198.18.0.0/15, the benchmarking range; MACHINE-NOTES):
 * - slot k (0..15) is claimed per lab, so labs coexist in one kernel;
 * - underlay 198.18.k.0/24 on a bridge in the root namespace: the host is
 *   .1, node i is .(10+i), the outside world is .254;
 * - cluster pod network 198.19.(16k).0/20, node i's pod subnet
 *   198.19.(16k+i).0/24 (so at most 16 nodes);
 * - service cluster IPs from 198.18.(128+k).0/24 (allocated, not routed:
 *   the lab has no kube-proxy).
 */
import { createHash } from 'node:crypto';

export const MAX_SLOTS = 16;
export const MAX_NODES = 16;
export const DEFAULT_LAB = 'lab';
export const API_PORT = 6443;

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/;

/** Throws a message naming the rule when `name` cannot be a lab name. */
export function checkLabName(name: string): string {
  if (!NAME_RE.test(name))
    throw new Error(
      `lab name "${name}": use 1-20 lowercase letters, digits or '-', starting and ending with a letter or digit`,
    );
  return name;
}

export interface NodePlan {
  index: number;
  /** Node name, also the name `ip netns list` shows. */
  name: string;
  /** Host-side veth in the root namespace (the node's end is eth0). */
  hostVeth: string;
  /** Address on the underlay (no prefix length). */
  ip: string;
  podCIDR: string;
  /** The CNI bridge's address in the node: the pods' gateway. */
  podGateway: string;
}

export interface LabPlan {
  name: string;
  slot: number;
  /** Bridge in the root namespace joining nodes, host and outside world. */
  bridge: string;
  underlayCIDR: string;
  hostIp: string;
  clusterCIDR: string;
  serviceCIDR: string;
  outside: { netns: string; hostVeth: string; ip: string };
  nodes: NodePlan[];
  apiServer: { ip: string; port: number; url: string };
}

/** Short, name-derived tag for link names (IFNAMSIZ is 16 with the NUL). */
export function linkTag(labName: string): string {
  return 'bh' + createHash('sha256').update(labName).digest('hex').slice(0, 6);
}

export function planLab(name: string, slot: number, nodeCount: number): LabPlan {
  checkLabName(name);
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS)
    throw new Error(`slot ${slot} out of 0..${MAX_SLOTS - 1}`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES)
    throw new Error(`--nodes ${nodeCount}: a lab has 1 to ${MAX_NODES} nodes`);
  const tag = linkTag(name);
  const base = `198.18.${slot}`;
  const hostIp = `${base}.1`;
  const nodes: NodePlan[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const third = 16 * slot + i;
    nodes.push({
      index: i,
      name: `bh-${name}-n${i}`,
      hostVeth: `${tag}n${i}`,
      ip: `${base}.${10 + i}`,
      podCIDR: `198.19.${third}.0/24`,
      podGateway: `198.19.${third}.1`,
    });
  }
  return {
    name,
    slot,
    bridge: tag,
    underlayCIDR: `${base}.0/24`,
    hostIp,
    clusterCIDR: `198.19.${16 * slot}.0/20`,
    serviceCIDR: `198.18.${128 + slot}.0/24`,
    outside: { netns: `bh-${name}-out`, hostVeth: `${tag}o`, ip: `${base}.254` },
    nodes,
    apiServer: { ip: hostIp, port: API_PORT, url: `https://${hostIp}:${API_PORT}` },
  };
}

/** IPv4 dotted quad to a 32-bit unsigned number. */
export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
    throw new Error(`not an IPv4 address: ${ip}`);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** True when two CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const range = (c: string): [number, number] => {
    const [ip, len] = c.split('/');
    const bits = len === undefined ? 32 : Number(len);
    const size = 2 ** (32 - bits);
    const start = Math.floor(ipToInt(ip!) / size) * size;
    return [start, start + size - 1];
  };
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** The CIDRs a slot occupies in the root namespace's view. */
export function slotCIDRs(slot: number): string[] {
  return [`198.18.${slot}.0/24`, `198.19.${16 * slot}.0/20`];
}
