// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (root): the C-VEN's CPU and memory while its node's pods make
 * 1,000 new TCP connections a second (probe attached to both pods' veths,
 * flows decided, spooled and uploaded), and how many of those connections
 * the explorer counts. A host Python server and `--clients` client
 * processes (each paced at rate/clients) run inside the two pods' network
 * namespaces (busybox nc forks per connection, too slow for the rate).
 * Each client connects and waits for the server's FIN before it closes:
 * the server closes first, so TIME_WAIT stays on the server's side and the
 * client's port is free at once (a client closing first holds each of its
 * 28,232 ports in TIME_WAIT for 60 s, which capped the old generator near
 * 470-700/s as its port search slowed down), and a client port may be
 * reused within one drain (the probe counts such connections apart).
 * Prints figures, asserts nothing: connections made (and attempts that
 * failed), counted by the explorer, the difference, what the C-VEN reported
 * as lost, and its CPU and memory.
 * Run: `npm run build && node tests/lab/dist/bench/cven-flows.bench.js [--rate N] [--seconds S] [--clients K]`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
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
const CLIENTS = numberArg('clients', 2);

const SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9500)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
`;
// Prints "<connections made> <attempts that failed>". A plain socket, not create_connection (no resolver call).
const CLIENT = `
import socket, sys, time
ip, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
n = 0; failed = 0; t0 = time.time()
while time.time() - t0 < secs:
    wait = t0 + (n + failed) / rate - time.time()
    if wait > 0: time.sleep(wait)
    c = socket.socket()
    c.settimeout(2)
    try:
        c.connect((ip, 9500))
        while c.recv(64): pass
        n += 1
    except OSError: failed += 1
    c.close()
print(n, failed)
`;

/** Run `clients` paced client processes in `netnsPath` at `rate` in all; their summed counts. */
async function load(netnsPath: string, ip: string, rate: number, seconds: number, clients: number) {
  const one = (): Promise<[number, number]> =>
    new Promise((resolve, reject) => {
      const c = spawn(
        'nsenter',
        [`--net=${netnsPath}`, 'python3', '-c', CLIENT, ip, String(rate / clients), String(seconds)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => {
        const [made, failed] = out.trim().split(' ').map(Number);
        if (code !== 0 || made === undefined || failed === undefined)
          reject(new Error(`client exited ${code}: ${out}`));
        else resolve([made, failed]);
      });
    });
  const all = await Promise.all(Array.from({ length: clients }, one));
  return { made: all.reduce((a, [m]) => a + m, 0), failed: all.reduce((a, [, f]) => a + f, 0) };
}

/** What the C-VEN reported as lost (its log lines 'the flow probe lost records'). */
function reportedLost(logFile: string): number {
  let lost = 0;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('the flow probe lost records')) continue;
    try {
      lost += (JSON.parse(line) as { lost?: number }).lost ?? 0;
    } catch {
      // a torn line at the end of the log
    }
  }
  return lost;
}

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
    const { made, failed } = await load(pods.cli!.netnsPath, pods.srv!.ip, RATE, SECONDS, CLIENTS);
    const cpu = ((cpuTicks(pid) - t0) / 100 / ((performance.now() - w0) / 1000)) * 100;
    clearInterval(sampler);
    server.kill();
    await sleep(7000); // the last drain (every 2 s), its upload and ingest
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
    const lost = reportedLost(join(demo.dir, 'logs', `cven-${node}.log`));
    process.stdout.write(
      `cores: ${c.length} (${c[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}\n` +
        `load: ${made} new TCP connections in ${SECONDS} s (${(made / SECONDS).toFixed(0)}/s, asked ${RATE}/s, ${CLIENTS} client processes), pod to pod on one node; ${failed} attempts failed\n` +
        `C-VEN: CPU ${cpu.toFixed(1)}% of one core, RSS peak ${peakRss.toFixed(0)} MiB\n` +
        `connections: made ${made}, counted by the explorer ${counted}, difference ${counted - made} (${(((counted - made) / Math.max(made, 1)) * 100).toFixed(2)}%); reported lost by the C-VEN: ${lost}\n`,
    );
  } finally {
    await demo.stop();
  }
}

await main();
