// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Which network namespaces an interface connects: this process's own and,
 * for a veth, its peer's, as inodes (what drop records carry).
 *
 * Owns: reading `ip -j -d link` and `ip -j netns list-id`. The peer's
 * namespace is found only when it is named (`ip netns`, /run/netns, as CNI
 * plugins and the lab create them); otherwise it is reported unknown.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface InterfaceNamespaces {
  /** Inode of this process's network namespace. */
  own: number;
  /** Inode of the veth peer's namespace; `own` when the peer is local; undefined when unknown. */
  peer: number | undefined;
  /** Name of the peer's namespace when it has one. */
  peerName: string | undefined;
}

/** Find the namespaces around `ifname`. Never throws: unknown parts are undefined. */
export async function interfaceNamespaces(ifname: string): Promise<InterfaceNamespaces> {
  const own = statSync('/proc/self/ns/net').ino;
  try {
    const [link] = JSON.parse((await run('ip', ['-j', '-d', 'link', 'show', 'dev', ifname])).stdout) as {
      link_netnsid?: number;
      linkinfo?: { info_kind?: string };
    }[];
    if (link?.linkinfo?.info_kind !== 'veth') return { own, peer: undefined, peerName: undefined };
    if (link.link_netnsid === undefined) return { own, peer: own, peerName: undefined };
    const ids = JSON.parse((await run('ip', ['-j', 'netns', 'list-id'])).stdout || '[]') as {
      nsid: number;
      name?: string;
    }[];
    const name = ids.find((i) => i.nsid === link.link_netnsid)?.name;
    if (!name) return { own, peer: undefined, peerName: undefined };
    return { own, peer: statSync(`/run/netns/${name}`).ino, peerName: name };
  } catch {
    return { own, peer: undefined, peerName: undefined };
  }
}
