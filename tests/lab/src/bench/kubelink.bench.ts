// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (root): Kubelink's first full sync of a large cluster and its
 * steady-state cost. The lab API server holds 200 namespaces, 500 services
 * and 5,000 pods bound to nodes no kubelet runs (so nothing starts); then
 * Kubelink starts against it with a real PCE, and the time until the PCE
 * holds a profile per namespace, and every virtual service, is measured
 * from outside. Then its CPU and memory over a quiet minute.
 * Run: `npm run build && node tests/lab/dist/bench/kubelink.bench.js [--pods N] [--services N] [--namespaces N] [--quiet-seconds S]`.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { labApi } from '../client.js';
import { startDemo } from '../demo.js';
import { cpuTicks, eventually, freePort, must, numberArg, rssMiB, shortName, sleep } from '../demo-support.js';

const PODS = numberArg('pods', 5000);
const SERVICES = numberArg('services', 500);
const NAMESPACES = numberArg('namespaces', 200);
const QUIET_S = numberArg('quiet-seconds', 60);

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function main(): Promise<void> {
  const demo = await startDemo({
    dir: `/tmp/${shortName('bh-klbench-')}`,
    labName: shortName('kb'),
    nodes: 1,
    pcePort: await freePort(),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  try {
    await demo.stopKubelink();
    const api = labApi(demo.lab.name);
    const post = async (path: string, body: unknown): Promise<void> => {
      const r = await api.call('POST', path, body);
      if (r.status >= 300) throw new Error(`POST ${path}: ${r.status}`);
    };
    const t0 = performance.now();
    const nss = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    await pool(nss, 16, (n) =>
      post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }),
    );
    await pool(
      Array.from({ length: SERVICES }, (_, i) => i),
      16,
      (i) =>
        post(`/api/v1/namespaces/${nss[i % NAMESPACES]}/services`, {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: `svc-${i}` },
          spec: {
            clusterIP: 'None',
            selector: { app: `a${i}` },
            ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
          },
        }),
    );
    await pool(
      Array.from({ length: PODS }, (_, i) => i),
      16,
      (i) =>
        post(`/api/v1/namespaces/${nss[i % NAMESPACES]}/pods`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `pod-${i}`, labels: { app: `a${i % SERVICES}` } },
          spec: { nodeName: `ghost-${i % 50}`, containers: [{ name: 'c', image: 'busybox' }] },
        }),
    );
    const loadS = (performance.now() - t0) / 1000;
    // Every namespace managed, so every service becomes a virtual service.
    const dflt = (
      await must<{ href: string; namespace: string | null }[]>(
        demo,
        'GET',
        `${demo.clusterHref}/container_workload_profiles`,
      )
    ).find((p) => p.namespace === null)!;
    await must(demo, 'PUT', dflt.href, { managed: true, enforcement_mode: 'visibility_only' });

    const t1 = performance.now();
    await demo.startKubelink();
    await eventually(
      `${NAMESPACES} profiles and ${SERVICES} virtual services in the PCE`,
      async () => {
        const profiles = (
          await must<{ namespace: string | null }[]>(
            demo,
            'GET',
            `${demo.clusterHref}/container_workload_profiles?max_results=100000`,
          )
        ).filter((p) => p.namespace?.startsWith('bench-'));
        if (profiles.length < NAMESPACES) return false;
        const vss = (
          await must<{ managed_by: string }[]>(
            demo,
            'GET',
            '/orgs/1/sec_policy/active/virtual_services?max_results=100000',
          )
        ).filter((v) => v.managed_by === 'kubelink');
        return vss.length >= SERVICES;
      },
      600_000,
      250,
    );
    const syncS = (performance.now() - t1) / 1000;
    const pid = Number(
      execFileSync('pgrep', ['-f', `kubelink run .*${demo.clusterHref.split('/').pop()}`], { encoding: 'utf8' })
        .trim()
        .split('\n')[0],
    );
    await sleep(5000);
    const ticks0 = cpuTicks(pid);
    const w0 = performance.now();
    await sleep(QUIET_S * 1000);
    const cpuPct = ((cpuTicks(pid) - ticks0) / 100 / ((performance.now() - w0) / 1000)) * 100;
    const c = cpus();
    process.stdout.write(
      `cores: ${c.length} (${c[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}\n` +
        `cluster: ${NAMESPACES} namespaces, ${SERVICES} services, ${PODS} pods (loaded into the lab API server in ${loadS.toFixed(1)} s)\n` +
        `first full sync, Kubelink start → every profile and virtual service in the PCE: ${syncS.toFixed(2)} s\n` +
        `steady state over ${QUIET_S} s: CPU ${cpuPct.toFixed(2)}% of one core, RSS ${rssMiB(pid).toFixed(0)} MiB\n`,
    );
  } finally {
    await demo.stop();
  }
}

await main();
