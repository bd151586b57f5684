// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The outside world: a namespace on the underlay standing for the Internet,
 * with an HTTP server (busybox httpd on port 80 of every outside address)
 * and a DNS server (dnsmasq) answering a few names under `example.test`,
 * plus `<service>.<namespace>.svc.cluster.local` for the lab's Services
 * (the lab daemon rewrites `services.hosts` and sends SIGHUP). Pods use it
 * as their DNS server; their traffic reaches it through their node's SNAT.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from '../plan.js';
import { spawnDetached } from '../sh.js';
import { netnsPath, outsideAddresses } from './net.js';

export const outsideFiles = (dir: string): { hosts: string; services: string; www: string; log: string } => ({
  hosts: join(dir, 'names.hosts'),
  services: join(dir, 'services.hosts'),
  www: join(dir, 'www'),
  log: join(dir, 'outside.log'),
});

export async function startOutsideServers(
  plan: LabPlan,
  dir: string,
): Promise<{ dnsmasqPid: number; httpdPid: number }> {
  const f = outsideFiles(dir);
  mkdirSync(f.www, { recursive: true });
  const { names } = outsideAddresses(plan);
  writeFileSync(
    f.hosts,
    Object.entries(names)
      .map(([n, ip]) => `${ip} ${n}`)
      .join('\n') + '\n',
  );
  writeFileSync(f.services, '');
  writeFileSync(join(f.www, 'index.html'), `outside world of lab ${plan.name}\n`);
  const ns = `--net=${netnsPath(plan.outside.netns)}`;
  const dnsmasqPid = await spawnDetached(
    [
      'nsenter',
      ns,
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--user=root',
      '--pid-file=',
      '--log-facility=-',
      `--listen-address=${plan.outside.ip}`,
      '--bind-interfaces',
      `--addn-hosts=${f.hosts}`,
      `--addn-hosts=${f.services}`,
      '--local=/cluster.local/',
      '--local=/example.test/',
    ],
    f.log,
  );
  const httpdPid = await spawnDetached(['nsenter', ns, 'busybox', 'httpd', '-f', '-p', '80', '-h', f.www], f.log);
  return { dnsmasqPid, httpdPid };
}
