// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (not a test): what the flow probe costs the workloads.
 *
 * Two "pods" (network namespaces) talk through a "node" namespace that
 * routes between their veths, as a CNI bridge-less setup would. Each round
 * measures iperf3 TCP throughput and the rate of short TCP connections
 * (connect, 1 byte, close), once with the probe attached to both pods'
 * node-side veths (and drained every second, as the C-VEN does) and once
 * without, alternating the order every round. Prints each round, the
 * median ratio with/without, and the core count.
 *
 * Run (root; after `npm run build`):
 *   node cven/dist/bench/probe.bench.js [--rounds 5] [--seconds 3]
 *
 * Everything lives in `bh-` + random namespaces, addresses in
 * 198.19.0.0/16 (benchmarking range), removed at the end or on Ctrl-C.
 * Nothing is created or changed in the machine's own namespace.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { ProgStats } from '../probe/abi.js';
import type { Probe } from '../probe/ffi.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Inside the node namespace: a probe switched by stdin lines. `on` loads
 * the probe (drop recorder included) and attaches it to the named veths,
 * `off` closes it; each answers with the same word once done. While on,
 * it drains every second, as the C-VEN does.
 */
async function daemonMode(ifnames: string[]): Promise<void> {
  const { Probe, interfaceIndex } = await import('../probe/ffi.js');
  let probe: Probe | undefined;
  let timer: NodeJS.Timeout | undefined;
  const off = (): void => {
    if (timer) clearInterval(timer);
    probe?.close();
    probe = undefined;
  };
  process.on('exit', off);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    let answer = line;
    if ((line === 'on' || line === 'on-stats') && !probe) {
      const p = Probe.open();
      probe = p;
      if (line === 'on-stats') p.enableRunStats();
      for (const name of ifnames) p.attach(interfaceIndex(name));
      timer = setInterval(() => {
        p.drainFlows();
        p.drainDrops();
      }, 1000);
    } else if (line === 'stats') {
      answer = `stats ${JSON.stringify({ prog: probe?.readProgStats() ?? null, cpu: process.cpuUsage() })}`;
    } else if (line === 'off') {
      off();
    }
    process.stdout.write(`${answer}\n`);
  }
  off();
}

interface Lab {
  node: string;
  a: string;
  b: string;
  ipA: string;
  ipB: string;
  vethA: string;
  vethB: string;
  destroy(): Promise<void>;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args, { maxBuffer: 64 << 20 })).stdout;
}

async function createLab(): Promise<Lab> {
  const id = randomBytes(3).toString('hex');
  const node = `bh-${id}-n`;
  const a = `bh-${id}-a`;
  const b = `bh-${id}-b`;
  const vethA = `bh${id}a`;
  const vethB = `bh${id}b`;
  const ipA = '198.19.1.2';
  const ipB = '198.19.2.2';
  const lab: Lab = {
    node,
    a,
    b,
    ipA,
    ipB,
    vethA,
    vethB,
    destroy: async () => {
      for (const ns of [a, b, node]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    },
  };
  try {
    for (const ns of [node, a, b]) await sh('ip', ['netns', 'add', ns]);
    const inNode = (...args: string[]) => sh('ip', ['-n', node, ...args]);
    for (const [pod, veth, ip, gw] of [
      [a, vethA, ipA, '198.19.1.1'],
      [b, vethB, ipB, '198.19.2.1'],
    ] as const) {
      await inNode('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
      await inNode('addr', 'add', `${gw}/24`, 'dev', veth);
      await inNode('link', 'set', veth, 'up');
      await sh('ip', ['-n', pod, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', pod, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', pod, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', pod, 'route', 'add', 'default', 'via', gw]);
      // Short connections: reuse TIME_WAIT ports and use the whole ephemeral range.
      await sh('ip', ['netns', 'exec', pod, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1']);
      await sh('ip', ['netns', 'exec', pod, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65000']);
    }
    await sh('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await sh('ip', ['netns', 'exec', node, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

function nsenter(ns: string, cmd: string, args: string[]): string[] {
  return [`--net=/run/netns/${ns}`, cmd, ...args];
}

async function iperf(lab: Lab, seconds: number): Promise<number> {
  const port = String(5201 + Math.floor(Math.random() * 1000));
  const server = spawn('nsenter', nsenter(lab.b, 'iperf3', ['-s', '-1', '-B', lab.ipB, '-p', port]), {
    stdio: 'ignore',
  });
  try {
    await sleep(300);
    const out = await sh('nsenter', nsenter(lab.a, 'iperf3', ['-c', lab.ipB, '-p', port, '-t', String(seconds), '-J']));
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second;
  } finally {
    server.kill();
  }
}

const CRR_SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1024)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"k"); c.close()
`;

const CRR_CLIENT = `
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
n = 0; end = time.monotonic() + secs
while time.monotonic() < end:
    c = socket.create_connection((host, port)); c.recv(1); c.close(); n += 1
print(n / secs)
`;

async function connectionRate(lab: Lab, seconds: number): Promise<number> {
  const port = String(7000 + Math.floor(Math.random() * 1000));
  const server = spawn('nsenter', nsenter(lab.b, 'python3', ['-c', CRR_SERVER, lab.ipB, port]), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once('data', () => resolve());
      server.once('exit', () => reject(new Error('connection-rate server exited')));
    });
    return Number(
      (await sh('nsenter', nsenter(lab.a, 'python3', ['-c', CRR_CLIENT, lab.ipB, port, String(seconds)]))).trim(),
    );
  } finally {
    server.kill();
  }
}

/** The probe daemon inside the node namespace, watching both pods' veths. */
/** The daemon's view of cost: the programs' run time, and its own CPU (drain + decode). */
interface DaemonStats {
  prog: ProgStats;
  cpu: { user: number; system: number };
}

interface Daemon {
  set(mode: 'on' | 'on-stats' | 'off'): Promise<void>;
  stats(): Promise<DaemonStats>;
  stop(): Promise<void>;
}

async function startDaemon(lab: Lab): Promise<Daemon> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn('nsenter', nsenter(lab.node, process.execPath, [self, '--daemon', `${lab.vethA},${lab.vethB}`]), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const answers = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async set(mode) {
      child.stdin!.write(`${mode}\n`);
      const answer = await answers.next();
      if (answer.done || answer.value !== mode) throw new Error(`probe daemon did not switch ${mode}`);
    },
    async stats() {
      child.stdin!.write('stats\n');
      const answer = await answers.next();
      if (answer.done || !answer.value.startsWith('stats ')) throw new Error('probe daemon gave no stats');
      return JSON.parse(answer.value.slice('stats '.length)) as DaemonStats;
    },
    async stop() {
      child.stdin!.end();
      await exited;
    },
  };
}

function costLine(name: string, a: DaemonStats, b: DaemonStats, wallNs: number): string {
  const part = (k: keyof ProgStats): string => {
    const runs = b.prog[k].runs - a.prog[k].runs;
    const ns = b.prog[k].ns - a.prog[k].ns;
    return `${k} ${runs} runs ${runs ? (ns / runs).toFixed(0) : 0} ns/run`;
  };
  const progNs = (['fromPod', 'toPod', 'nfDrop'] as const).reduce((t, k) => t + (b.prog[k].ns - a.prog[k].ns), 0);
  const drainNs = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) * 1000;
  const pct = (ns: number): string => `${((100 * ns) / wallNs).toFixed(2)}%`;
  return (
    `  ${name.padEnd(18)} ${part('fromPod')}, ${part('toPod')}, ${part('nfDrop')}\n` +
    `  ${''.padEnd(18)} programs ${pct(progNs)} of one core; drain process (drain + decode, 1/s) ${pct(drainNs)} of one core`
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      daemon: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '3' },
    },
  });
  if (values.daemon) return daemonMode(values.daemon.split(','));
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (namespaces, BPF): run it with sudo');
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);

  const lab = await createLab();
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const cleanup = async (): Promise<void> => {
    await daemon?.stop().catch(() => undefined);
    await lab.destroy();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const costs: string[] = [];
  const results = {
    iperf: { on: [] as number[], off: [] as number[] },
    crr: { on: [] as number[], off: [] as number[] },
  };
  try {
    daemon = await startDaemon(lab);
    await connectionRate(lab, 1); // warm up ARP, caches, python
    for (let i = 0; i < rounds; i++) {
      const order: ('on' | 'off')[] = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const mode of order) {
        await daemon.set(mode);
        const bps = await iperf(lab, seconds);
        const crr = await connectionRate(lab, seconds);
        results.iperf[mode].push(bps);
        results.crr[mode].push(crr);
        process.stdout.write(
          `round ${i + 1} probe ${mode.padEnd(3)}  iperf3 ${(bps / 1e9).toFixed(2)} Gbit/s  short connections ${crr.toFixed(0)}/s\n`,
        );
      }
    }
    await daemon.set('off');

    // In-kernel cost, from the kernel's run-time accounting (a separate run: accounting adds its own clock reads).
    await daemon.set('on-stats');
    for (const [name, measure] of [
      ['iperf3', () => iperf(lab, seconds)],
      ['short connections', () => connectionRate(lab, seconds)],
    ] as const) {
      const before = await daemon.stats();
      const t0 = process.hrtime.bigint();
      await measure();
      const wallNs = Number(process.hrtime.bigint() - t0);
      costs.push(costLine(name, before, await daemon.stats(), wallNs));
    }
    await daemon.set('off');
  } finally {
    await cleanup();
  }
  // Per-round ratios (each round has one run of each mode, back to back), then their median.
  const ratio = (r: { on: number[]; off: number[] }) => median(r.on.map((v, i) => v / (r.off[i] ?? v)));
  const cores = availableParallelism();
  process.stdout.write(
    `\ncores: ${cores} (${cpus()[0]?.model ?? 'unknown CPU'})\n` +
      `iperf3 throughput      without ${(median(results.iperf.off) / 1e9).toFixed(2)} Gbit/s, with ${(median(results.iperf.on) / 1e9).toFixed(2)} Gbit/s, ratio ${ratio(results.iperf).toFixed(3)}\n` +
      `short TCP connections  without ${median(results.crr.off).toFixed(0)}/s, with ${median(results.crr.on).toFixed(0)}/s, ratio ${ratio(results.crr).toFixed(3)}\n` +
      `in-kernel cost (bpf run-time stats, separate run):\n${costs.join('\n')}\n` +
      `(medians of ${rounds} rounds of ${seconds} s per measure, order alternating; ratio = median of per-round with/without; goal >= 0.97)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`probe bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
