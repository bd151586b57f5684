// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (root): how long `lab up --nodes 3` with the sample application
 * (tests/lab/apps/shop.yaml) takes until every pod runs, the memory each
 * node uses (its containerd, its shims, its pods' cgroup), the lab daemon's
 * memory, and how long `lab down` takes. Prints one JSON object.
 * Run: `npm run build && node tests/lab/dist/bench/up.bench.js [--nodes N]`
 * (or `npm run bench -w @bulkhead/lab`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labApi } from '../client.js';
import { labDown, labUp } from '../lab.js';
import { applyFile, parseManifests } from '../manifests.js';
import { processesMentioning } from '../proc.js';
import { labStatus } from '../status.js';
import { nodeDir, readProcesses } from '../state.js';

const SHOP = fileURLToPath(new URL('../../apps/shop.yaml', import.meta.url));

function rssKiB(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function cgroupMemKiB(rel: string): number {
  for (const f of [
    `/sys/fs/cgroup/memory${rel}/memory.usage_in_bytes`,
    `/sys/fs/cgroup/unified${rel}/memory.current`,
    `/sys/fs/cgroup${rel}/memory.current`,
  ])
    if (existsSync(f)) return Math.round(Number(readFileSync(f, 'utf8').trim()) / 1024);
  return 0;
}

const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark makes a lab: run it as root');
  const i = process.argv.indexOf('--nodes');
  const nodes = i > 0 ? Number(process.argv[i + 1]) : 3;
  const name = `bh-bench${randomBytes(2).toString('hex')}`;
  const wantPods = parseManifests(readFileSync(SHOP, 'utf8')).reduce(
    (n, o) => n + (o.kind === 'Deployment' ? Number((o.spec as { replicas?: number }).replicas ?? 1) : 0),
    0,
  );
  const t0 = Date.now();
  try {
    const up = await labUp({ name, nodes });
    const tUp = Date.now();
    await applyFile(labApi(name), SHOP, () => undefined);
    let running = 0;
    while (Date.now() - t0 < 120_000) {
      running = ((await labStatus(name))?.pods ?? []).filter((p) => p.namespace.startsWith('shop-') && p.ip).length;
      if (running >= wantPods) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tApp = Date.now();
    await new Promise((r) => setTimeout(r, 3000)); // let the traffic loops run, then measure
    const procs = readProcesses(name);
    const perNode = up.record.plan.nodes.map((n) => {
      const dir = nodeDir(name, n.index);
      const ctd = procs.containerd[String(n.index)] ?? 0;
      const shims = processesMentioning(dir).filter((p) => p !== ctd);
      const containerd = rssKiB(ctd);
      const shimKiB = shims.reduce((s, p) => s + rssKiB(p), 0);
      const podsKiB = cgroupMemKiB(`/bh-lab-${name}/n${n.index}`);
      return {
        node: n.name,
        pods: 0,
        containerdMiB: mib(containerd),
        shimsMiB: mib(shimKiB),
        shims: shims.length,
        podsCgroupMiB: mib(podsKiB),
        totalMiB: mib(containerd + shimKiB + podsKiB),
      };
    });
    for (const p of (await labStatus(name))?.pods ?? []) {
      const n = perNode.find((x) => x.node === p.node);
      if (n) n.pods++;
    }
    const labdKiB = rssKiB(up.record.labdPid ?? 0);
    const tDown0 = Date.now();
    const down = await labDown(name);
    const result = {
      nodes,
      pods: running,
      labUpSeconds: (tUp - t0) / 1000,
      sampleAppRunningSeconds: (tApp - tUp) / 1000,
      totalSeconds: (tApp - t0) / 1000,
      labDownSeconds: (Date.now() - tDown0) / 1000,
      labdMiB: mib(labdKiB),
      perNode,
      meanNodeMiB: mib((perNode.reduce((s, n) => s + n.totalMiB, 0) / perNode.length) * 1024),
      leftovers: down.leftovers,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await labDown(name).catch(() => undefined);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
