// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (root): policy convergence on a demo (PCE + lab + a C-VEN per
 * node), measured from outside as a user would see it: the time from a
 * change on the PCE to the rules being in the kernel of every node it
 * concerns (read back with `nft list` in the pods' namespaces).
 * - provision: a rule's port changes and is provisioned → both ends' tables
 *   hold the new port (consumer on one node, provider on the other);
 * - profile label change: a namespace's role assignment flips → the
 *   provider's set and the consumer's table change on both nodes;
 * - 100 pods on one node: the time the agent takes to apply that node's
 *   policy (all tables: after a restart; and a provision touching every table).
 * Run: `npm run build && node tests/lab/dist/bench/convergence.bench.js [--trials N] [--pods N]`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDemo, type Demo } from '../demo.js';
import { labStatus } from '../status.js';
import {
  eventually,
  freePort,
  labApply,
  label,
  must,
  numberArg,
  podYaml,
  profileOf,
  provision,
  shortName,
  sleep,
} from '../demo-support.js';

const run = promisify(execFile);
const TRIALS = numberArg('trials', 40);
const FLEET = numberArg('pods', 100);

async function table(netnsPath: string): Promise<string> {
  try {
    return (await run('nsenter', [`--net=${netnsPath}`, 'nft', 'list', 'table', 'inet', 'bulkhead'])).stdout;
  } catch {
    return '';
  }
}

/** ms from `t0` until every check holds (each polled continuously, in parallel). */
async function until(t0: number, checks: (() => Promise<boolean>)[], timeoutMs = 10_000): Promise<number> {
  const done = await Promise.all(
    checks.map(async (c) => {
      for (;;) {
        if (await c()) return performance.now();
        if (performance.now() - t0 > timeoutMs) throw new Error('not converged in 10 s');
      }
    }),
  );
  return Math.max(...done) - t0;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const fmt = (xs: number[]): string =>
  `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;

function appliedLogs(demo: Demo, node: string): { tables: number; ms: number }[] {
  const text = readFileSync(join(demo.dir, 'logs', `cven-${node}.log`), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.includes('"policy applied"'))
    .map((l) => JSON.parse(l) as { tables_written: number; ms: number })
    .map((j) => ({ tables: j.tables_written, ms: j.ms }));
}

async function main(): Promise<void> {
  const demo = await startDemo({
    dir: `/tmp/${shortName('bh-bench-')}`,
    labName: shortName('b'),
    nodes: 2,
    pcePort: await freePort(),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  try {
    const [n0, n1] = demo.lab.nodes.map((n) => n.name) as [string, string];
    const L = {
      app: await label(demo, 'app', 'bench'),
      srv: await label(demo, 'role', 'bsrv'),
      cli: await label(demo, 'role', 'bcli'),
      other: await label(demo, 'role', 'bother'),
    };
    await labApply(
      demo,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: bench-m}\n` +
        podYaml('bench', 'srv', { role: 'bsrv', node: n0, ports: [8080] }) +
        podYaml('bench', 'cli', { role: 'bcli', node: n1 }) +
        podYaml('bench-m', 'mover', { node: n1 }),
    );
    const prof = { bench: await profileOf(demo, 'bench'), mover: await profileOf(demo, 'bench-m') };
    await must(demo, 'PUT', prof.bench, {
      managed: true,
      enforcement_mode: 'full',
      labels: [{ key: 'app', assignment: { href: L.app } }],
    });
    const moverLabels = (role: string) => [
      { key: 'app', assignment: { href: L.app } },
      { key: 'role', assignment: { href: role } },
    ];
    await must(demo, 'PUT', prof.mover, { managed: true, enforcement_mode: 'full', labels: moverLabels(L.other) });
    const rs = (
      await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/rule_sets', {
        name: 'bench',
        scopes: [[{ label: { href: L.app } }]],
      })
    ).href;
    const body = (port: number) => ({
      enabled: true,
      providers: [{ label: { href: L.srv } }],
      consumers: [{ label: { href: L.cli } }],
      ingress_services: [{ port, proto: 6 }],
      resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
      unscoped_consumers: false,
    });
    const rule = (await must<{ href: string }>(demo, 'POST', `${rs}/sec_rules`, body(10_000))).href;
    await provision(demo, 'bench');
    const pods = await eventually('bench pods', async () => {
      const s = (await labStatus(demo.lab.name))!;
      const by = Object.fromEntries(
        s.pods.filter((p) => p.namespace.startsWith('bench') && p.netnsPath).map((p) => [p.name, p.netnsPath]),
      );
      return by.srv && by.cli && by.mover ? by : undefined;
    });
    await eventually('first policy', async () => (await table(pods.srv!)).includes('dport 10000'));

    // 1. provision → both ends hold the new port.
    const prov: number[] = [];
    for (let i = 1; i <= TRIALS; i++) {
      const port = 10_000 + i;
      await must(demo, 'PUT', rule, { ingress_services: [{ port, proto: 6 }] });
      const t0 = performance.now();
      await provision(demo, `bench ${i}`);
      prov.push(
        await until(t0, [
          async () => (await table(pods.srv!)).includes(`dport ${port}`),
          async () => (await table(pods.cli!)).includes(`dport ${port}`),
        ]),
      );
      await sleep(50);
    }
    // 2. profile label change → provider's set (node 0) and the mover's own table (node 1) change.
    const relabel: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const before = [await table(pods.srv!), await table(pods.mover!)];
      const t0 = performance.now();
      await must(demo, 'PUT', prof.mover, { labels: moverLabels(i % 2 === 0 ? L.cli : L.other) });
      relabel.push(
        await until(t0, [
          async () => (await table(pods.srv!)) !== before[0],
          async () => (await table(pods.mover!)) !== before[1],
        ]),
      );
      await sleep(50);
    }

    // 3. New pods one at a time: sandbox start → fail-closed table → own policy's table.
    const podLog = (msg: string): { pod: string; ms: number }[] =>
      readFileSync(join(demo.dir, 'logs', `cven-${n1}.log`), 'utf8')
        .split('\n')
        .filter((l) => l.includes(`"msg":"${msg}"`))
        .map((l) => JSON.parse(l) as { pod: string; ms_since_sandbox_start: number })
        .map((j) => ({ pod: j.pod, ms: j.ms_since_sandbox_start }));
    const single: { held: number[]; enforced: number[] } = { held: [], enforced: [] };
    for (let i = 0; i < Math.min(TRIALS, 20); i++) {
      await labApply(demo, podYaml('bench', `one${i}`, { role: 'bcli', node: n1 }));
      const hit = await eventually(
        `pod one${i} enforced`,
        async () => podLog('pod enforced').find((l) => l.pod === `bench/one${i}`),
        20_000,
      );
      single.enforced.push(hit.ms);
      const held = podLog('pod held fail-closed until its policy arrives').find((l) => l.pod === `bench/one${i}`);
      if (held) single.held.push(held.ms);
    }

    // 4. A node with FLEET pods (namespace full, every pod a consumer of srv).
    const fleet = Array.from({ length: FLEET }, (_, i) => podYaml('bench', `f${i}`, { role: 'bcli', node: n1 })).join(
      '',
    );
    const tFleet = performance.now();
    await labApply(demo, fleet);
    await eventually(
      `${FLEET} pods enforced`,
      async () => {
        const s = (await labStatus(demo.lab.name))!;
        return s.pods.filter((p) => p.namespace === 'bench' && p.name.startsWith('f') && p.ip).length === FLEET;
      },
      180_000,
      500,
    );
    const fleetUp = (performance.now() - tFleet) / 1000;
    const podLatency = (msg: string): number[] =>
      podLog(msg)
        .filter((l) => /^bench\/f\d+$/.test(l.pod))
        .map((l) => l.ms);
    await sleep(3000);
    const mark = appliedLogs(demo, n1).length;
    await must(demo, 'PUT', rule, { ingress_services: [{ port: 20_000, proto: 6 }] });
    await provision(demo, 'bench fleet');
    await eventually(
      'fleet provision applied',
      async () =>
        appliedLogs(demo, n1)
          .slice(mark)
          .some((l) => l.tables >= FLEET),
      30_000,
    );
    const provisionApply = appliedLogs(demo, n1)
      .slice(mark)
      .find((l) => l.tables >= FLEET)!;
    const heldAt = podLatency('pod held fail-closed until its policy arrives');
    const enforcedAt = podLatency('pod enforced');
    await demo.stopAgent(n1);
    const beforeRestart = appliedLogs(demo, n1).length;
    await demo.startAgent(n1);
    await eventually('restart re-apply', async () => appliedLogs(demo, n1).length > beforeRestart, 30_000);
    const restartApply = appliedLogs(demo, n1)[beforeRestart]!;
    const c = cpus();
    process.stdout.write(
      `cores: ${c.length} (${c[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}\n` +
        `convergence, provision → rules in the kernel on both nodes: ${fmt(prov)}\n` +
        `convergence, profile label change → sets and tables on both nodes: ${fmt(relabel)}\n` +
        `new pod, one at a time, sandbox start → fail-closed table: ${single.held.length ? fmt(single.held) : 'none (policy came first)'}\n` +
        `new pod, one at a time, sandbox start → its own policy's table: ${fmt(single.enforced)}\n` +
        `${FLEET} pods on one node: running and reported in ${fleetUp.toFixed(1)} s\n` +
        `  apply of that node's policy, provision touching every table: ${provisionApply.ms} ms for ${provisionApply.tables} tables\n` +
        `  full re-apply after an agent restart (from disk): ${restartApply.ms} ms for ${restartApply.tables} tables\n` +
        `  ${FLEET} pods at once, sandbox start → fail-closed table: ${fmt(heldAt)}\n` +
        `  ${FLEET} pods at once, sandbox start → its own policy's table: ${fmt(enforcedAt)}\n` +
        `(goal: p99 under 1 s)\n`,
    );
  } finally {
    await demo.stop();
  }
}

await main();
