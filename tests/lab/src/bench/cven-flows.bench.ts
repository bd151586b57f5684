// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (root): the C-VEN's CPU and memory while its node's pods make
 * 1,000 new TCP connections a second (probe attached to both pods' veths,
 * flows decided, spooled and uploaded), and how many of those connections
 * the explorer counts. A host Python server and client run inside the two
 * pods' network namespaces (busybox nc forks per connection, too slow for
 * the rate). Run: `npm run build && node tests/lab/dist/bench/cven-flows.bench.js [--rate N] [--seconds S]`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { startDemo } from '../demo.js';
import {
  cpuTicks,
  eventually,
  freePort,
  labApply,
  must,
  numberArg,
  podYaml,
  profileOf,
  rssMiB,
  shortName,
  sleep,
} from '../demo-support.js';
import { labStatus } from '../status.js';

const RATE = numberArg('rate', 1000);
const SECONDS = numberArg('seconds', 30);

const SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9500)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
`;
const CLIENT = `
import socket, sys, time
ip, rate, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
n = 0; t0 = time.time()
while time.time() - t0 < secs:
    due = t0 + n / rate
    wait = due - time.time()
    if wait > 0: time.sleep(wait)
    try:
        c = socket.create_connection((ip, 9500), timeout=1); c.close(); n += 1
    except OSError: pass
print(n)
`;

async function main(): Promise<void> {
  const demo = await startDemo({
    dir: `/tmp/${shortName('bh-cfbench-')}`,
    labName: shortName('cf'),
    nodes: 1,
    pcePort: await freePort(),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  try {
    await labApply(
      demo,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench-f}\n` +
        podYaml('bench-f', 'srv', {}) +
        podYaml('bench-f', 'cli', {}),
    );
    await must(demo, 'PUT', await profileOf(demo, 'bench-f'), { managed: true, enforcement_mode: 'visibility_only' });
    const pods = await eventually('pods', async () => {
      const by = Object.fromEntries(
        (await labStatus(demo.lab.name))!.pods.filter((p) => p.namespace === 'bench-f' && p.ip).map((p) => [p.name, p]),
      );
      return by.srv && by.cli ? by : undefined;
    });
    await sleep(3000); // tables and probe attached
    const server = spawn('nsenter', [`--net=${pods.srv!.netnsPath}`, 'python3', '-c', SERVER], { stdio: 'ignore' });
    await sleep(500);
    const node = demo.lab.nodes[0]!.name;
    const pid = Number(
      execFileSync('pgrep', ['-f', `cven run .*--node-name ${node}`], { encoding: 'utf8' })
        .trim()
        .split('\n')[0],
    );
    const t0 = cpuTicks(pid);
    const w0 = performance.now();
    let peakRss = rssMiB(pid);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 500);
    const made = Number(
      execFileSync(
        'nsenter',
        [`--net=${pods.cli!.netnsPath}`, 'python3', '-c', CLIENT, pods.srv!.ip, String(RATE), String(SECONDS)],
        { encoding: 'utf8' },
      ).trim(),
    );
    const cpu = ((cpuTicks(pid) - t0) / 100 / ((performance.now() - w0) / 1000)) * 100;
    clearInterval(sampler);
    server.kill();
    await sleep(5000);
    const q = {
      start_date: new Date(Date.now() - 600_000).toISOString(),
      end_date: new Date(Date.now() + 60_000).toISOString(),
      sources: { include: [[]], exclude: [] },
      destinations: { include: [[{ ip_address: { value: pods.srv!.ip } }]], exclude: [] },
      services: { include: [{ port: 9500, proto: 6 }], exclude: [] },
      max_results: 100_000,
    };
    const job = await must<{ result: string }>(demo, 'POST', '/orgs/1/traffic_flows/async_queries', q, [202]);
    const counted = (await must<{ num_connections: number }[]>(demo, 'GET', job.result)).reduce(
      (a, f) => a + f.num_connections,
      0,
    );
    const c = cpus();
    process.stdout.write(
      `cores: ${c.length} (${c[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}\n` +
        `load: ${made} new TCP connections in ${SECONDS} s (${(made / SECONDS).toFixed(0)}/s asked ${RATE}/s), pod to pod on one node\n` +
        `C-VEN: CPU ${cpu.toFixed(1)}% of one core, RSS peak ${peakRss.toFixed(0)} MiB\n` +
        `explorer counted ${counted} of ${made} connections\n`,
    );
  } finally {
    await demo.stop();
  }
}

await main();
