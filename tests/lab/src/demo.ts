// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Bulkhead on one host, from real parts: a PCE (SQLite), a lab cluster and
 * a C-VEN per lab node (each inside its node's network namespace), wired
 * together through the PCE's own API as a user would (container cluster,
 * pairing profile, activation code). `npm start` runs it on the embedded
 * defaults; end-to-end tests and benchmarks start their own.
 *
 * Owns: start order (lab → PCE on the underlay → cluster and pairing →
 * agents → wait until every agent reports its policy applied) and the
 * reverse on stop. Talks to the parts only through their command lines and
 * the PCE's REST API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labApi } from './client.js';
import { labDown, labUp } from './lab.js';
import { applyFile } from './manifests.js';
import { labStatus, type LabStatus } from './status.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BULKHEAD_BIN = join(REPO, 'bin', 'bulkhead.js');
const SHOP_YAML = fileURLToPath(new URL('../apps/shop.yaml', import.meta.url));

export interface DemoOptions {
  /** Where the PCE's data dir, the agents' state and the logs go. */
  dir: string;
  labName: string;
  nodes: number;
  pcePort: number;
  /** Keep the PCE's data and the agents' state from a previous run. */
  keep?: boolean;
  /** Run the sample shop (tests/lab/apps/shop.yaml) with its traffic, its namespaces managed in visibility_only. */
  shop?: boolean;
  /** Enforcement mode of the nodes' pairing profile. */
  nodeMode?: 'idle' | 'visibility_only' | 'selective' | 'full';
  /**
   * Start the agents with other command lines than the demo's own (the chart
   * test runs exactly what the rendered containers would). Called once the
   * PCE, the container cluster and the pairing key exist. A C-VEN still runs
   * in its node's network namespace (nsenter --net: the host network).
   */
  launch?: (ctx: LaunchContext) => Promise<AgentLaunchers>;
  log?: (line: string) => void;
}

/** What a custom launch needs to know about the demo it starts agents for. */
export interface LaunchContext {
  dir: string;
  lab: LabStatus;
  /** The PCE's URL on the lab underlay, where both agents can reach it. */
  pceUrl: string;
  ca: string;
  clusterId: string;
  clusterToken: string;
  activationCode: string;
}

/** One agent's process: the program, its arguments and its whole environment. */
export interface AgentLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface AgentLaunchers {
  cven(node: string): AgentLaunch;
  kubelink(): AgentLaunch;
}

export interface Demo {
  dir: string;
  lab: LabStatus;
  /** The PCE's URL on the lab underlay (what the nodes use). */
  pceUrl: string;
  /** The same PCE on loopback. */
  localUrl: string;
  ca: string;
  owner: { auth_username: string; secret: string };
  clusterHref: string;
  api: <T = unknown>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
  /** The node workloads, by lab node name. */
  nodeWorkloads: Record<string, string>;
  /** Start (again) Kubelink against the lab's API server. */
  startKubelink(): Promise<void>;
  stopKubelink(signal?: NodeJS.Signals): Promise<void>;
  /** Start (again) the C-VEN of one node; resolves when it runs. */
  startAgent(node: string): Promise<void>;
  /** Stop one node's C-VEN (`SIGKILL` to simulate a crash). */
  stopAgent(node: string, signal?: NodeJS.Signals): Promise<void>;
  startPce(): Promise<void>;
  stopPce(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

function waitExit(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      resolve();
    }, ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const started: { stop?: () => Promise<void> } = {};
  try {
    return await startDemoParts(opts, started);
  } catch (err) {
    await started.stop?.().catch(() => undefined);
    throw err;
  }
}

async function startDemoParts(opts: DemoOptions, started: { stop?: () => Promise<void> }): Promise<Demo> {
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir;
  const pceDir = join(dir, 'pce');
  if (!opts.keep) {
    rmSync(pceDir, { recursive: true, force: true });
    rmSync(join(dir, 'cven'), { recursive: true, force: true });
  }
  mkdirSync(join(dir, 'cven'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'logs'), { recursive: true });

  log(`starting the lab cluster "${opts.labName}" (${opts.nodes} nodes)`);
  await labUp({ name: opts.labName, nodes: opts.nodes, log: (l) => log(`  ${l}`) });
  const lab = (await labStatus(opts.labName))!;
  const hostIp = lab.underlay.hostIp;
  const pceUrl = `https://${hostIp}:${opts.pcePort}`;
  const localUrl = `https://127.0.0.1:${opts.pcePort}`;
  const ca = join(pceDir, 'tls', 'ca.pem');

  let pce: ChildProcess | null = null;
  const agents = new Map<string, ChildProcess>();
  let kubelink: ChildProcess | null = null;
  // Whatever fails from here on, nothing this call started is left running.
  started.stop = async (): Promise<void> => {
    const procs = [...agents.values(), ...(kubelink ? [kubelink] : [])];
    agents.clear();
    kubelink = null;
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => waitExit(p, 10_000)));
    await labDown(opts.labName);
    const p = pce;
    pce = null;
    p?.kill('SIGTERM');
    if (p) await waitExit(p, 10_000);
  };

  const call = <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const owner = JSON.parse(readFileSync(join(pceDir, 'owner-api-key.json'), 'utf8')) as Demo['owner'];
      const req = request(
        `${localUrl}/api/v2${path.replace(/^\/api\/v2/, '')}`,
        {
          method,
          ca: readFileSync(ca),
          timeout: 10_000,
          headers: {
            accept: 'application/json',
            authorization: `Basic ${Buffer.from(`${owner.auth_username}:${owner.secret}`).toString('base64')}`,
            ...(data ? { 'content-type': 'application/json' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              /* not JSON */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
      req.on('error', reject);
      req.end(data);
    });

  const healthy = async (): Promise<boolean> => {
    if (!existsSync(ca)) return false;
    return new Promise((resolve) => {
      const req = request(`${localUrl}/api/v2/health`, { ca: readFileSync(ca), timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  };

  const startPce = async (): Promise<void> => {
    const out = openSync(join(dir, 'logs', 'pce.log'), 'a');
    pce = spawn(
      process.execPath,
      [
        BULKHEAD_BIN,
        'pce',
        'serve',
        '--data-dir',
        pceDir,
        '--listen',
        `127.0.0.1:${opts.pcePort}`,
        '--listen',
        `${hostIp}:${opts.pcePort}`,
      ],
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    for (let i = 0; i < 300; i++) {
      if (await healthy()) return;
      if (pce.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`the PCE did not become healthy on ${localUrl}; see ${join(dir, 'logs', 'pce.log')}`);
  };
  const stopPce = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (!pce) return;
    pce.kill(signal);
    await waitExit(pce, 10_000);
    pce = null;
  };

  log(`starting the PCE on ${localUrl} and ${pceUrl}`);
  await startPce();
  const owner = JSON.parse(readFileSync(join(pceDir, 'owner-api-key.json'), 'utf8')) as Demo['owner'];

  // The container cluster (one per demo PCE) and the nodes' pairing profile.
  let clusterHref: string;
  const clusters = await call<{ href: string; name: string }[]>('GET', '/orgs/1/container_clusters');
  const existing = clusters.body.find((c) => c.name === opts.labName);
  if (existing) clusterHref = existing.href;
  else {
    const c = await call<{ href: string; container_cluster_token: string }>('POST', '/orgs/1/container_clusters', {
      name: opts.labName,
      description: 'the lab cluster of the demo',
    });
    if (c.status !== 201)
      throw new Error(`creating the container cluster failed: ${c.status} ${JSON.stringify(c.body)}`);
    clusterHref = c.body.href;
    writeFileSync(
      join(dir, 'cluster-token.json'),
      JSON.stringify({ cluster: clusterHref, token: c.body.container_cluster_token }) + '\n',
      {
        mode: 0o600,
      },
    );
  }
  const clusterId = clusterHref.slice(clusterHref.lastIndexOf('/') + 1);
  const token = (JSON.parse(readFileSync(join(dir, 'cluster-token.json'), 'utf8')) as { token: string }).token;

  let launchers: AgentLaunchers | null = null;
  const startKubelink = async (): Promise<void> => {
    const out = openSync(join(dir, 'logs', 'kubelink.log'), 'a');
    const custom = launchers?.kubelink();
    kubelink = custom
      ? spawn(custom.command, custom.args, { stdio: ['ignore', out, out], env: custom.env })
      : spawn(
          process.execPath,
          [
            BULKHEAD_BIN,
            'kubelink',
            'run',
            '--pce',
            localUrl,
            '--ca',
            ca,
            '--cluster-id',
            clusterId,
            '--kubeconfig',
            lab.apiServer.kubeconfig,
            '--service-cidr',
            lab.serviceCIDR,
          ],
          // The token travels in the environment, not on the command line (ps shows argv).
          { stdio: ['ignore', out, out], env: { ...process.env, BULKHEAD_CLUSTER_TOKEN: token } },
        );
    closeSync(out);
    const mine = kubelink;
    mine.once('exit', (code, signal) => {
      if (kubelink === mine) log(`Kubelink exited (${signal ?? code}); see ${join(dir, 'logs', 'kubelink.log')}`);
    });
  };
  const stopKubelink = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const k = kubelink;
    if (!k) return;
    kubelink = null;
    k.kill(signal);
    await waitExit(k, 10_000);
  };
  const profiles = await call<{ href: string; name: string }[]>('GET', '/orgs/1/pairing_profiles');
  let profileHref = profiles.body.find((p) => p.name === `${opts.labName} nodes`)?.href;
  if (!profileHref) {
    const p = await call<{ href: string }>('POST', '/orgs/1/pairing_profiles', {
      name: `${opts.labName} nodes`,
      enforcement_mode: opts.nodeMode ?? 'visibility_only',
      allowed_uses_per_key: 'unlimited',
      key_lifespan: 'unlimited',
    });
    if (p.status !== 201) throw new Error(`creating the pairing profile failed: ${p.status} ${JSON.stringify(p.body)}`);
    profileHref = p.body.href;
  }
  const key = await call<{ activation_code: string }>('POST', `${profileHref}/pairing_key`);
  if (key.status !== 200 && key.status !== 201) throw new Error(`making a pairing key failed: ${key.status}`);
  const codeFile = join(dir, 'activation-code');
  writeFileSync(codeFile, key.body.activation_code + '\n', { mode: 0o600 });
  if (opts.launch)
    launchers = await opts.launch({
      dir,
      lab,
      pceUrl,
      ca,
      clusterId,
      clusterToken: token,
      activationCode: key.body.activation_code,
    });

  const startAgent = async (node: string): Promise<void> => {
    const n = lab.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`no lab node ${node}`);
    const out = openSync(join(dir, 'logs', `cven-${node}.log`), 'a');
    const custom = launchers?.cven(node);
    const child = custom
      ? spawn('nsenter', [`--net=${n.netnsPath}`, custom.command, ...custom.args], {
          stdio: ['ignore', out, out],
          env: custom.env,
        })
      : spawn(
          'nsenter',
          [
            `--net=${n.netnsPath}`,
            process.execPath,
            BULKHEAD_BIN,
            'cven',
            'run',
            '--pce',
            pceUrl,
            '--ca',
            ca,
            '--cluster-id',
            clusterId,
            '--node-name',
            node,
            '--cri-socket',
            `unix://${n.criSocket}`,
            '--machine-id-file',
            join(lab.dir, `n${lab.nodes.indexOf(n)}`, 'machine-id'),
            '--state-dir',
            join(dir, 'cven', node),
          ],
          // The code travels in the environment, not on the command line (ps shows argv).
          { stdio: ['ignore', out, out], env: { ...process.env, BULKHEAD_ACTIVATION_CODE: key.body.activation_code } },
        );
    closeSync(out);
    agents.set(node, child);
    child.once('exit', (code, signal) => {
      if (agents.get(node) === child)
        log(`the C-VEN of ${node} exited (${signal ?? code}); see ${join(dir, 'logs', `cven-${node}.log`)}`);
    });
    await sleep(50);
    if (child.exitCode !== null)
      throw new Error(`the C-VEN of ${node} exited at once; see ${join(dir, 'logs', `cven-${node}.log`)}`);
  };
  const stopAgent = async (node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const a = agents.get(node);
    if (!a) return;
    agents.delete(node);
    a.kill(signal);
    await waitExit(a, 10_000);
  };

  log(`starting Kubelink against ${lab.apiServer.url}`);
  await startKubelink();
  log(`starting a C-VEN on each node (logs in ${join(dir, 'logs')})`);
  for (const n of lab.nodes) await startAgent(n.name);

  // Ready when every node's agent has paired and reports its policy applied.
  const nodeWorkloads: Record<string, string> = {};
  for (let i = 0; ; i++) {
    const w = await call<
      {
        href: string;
        hostname: string;
        container_cluster?: { href: string };
        agent?: { status: { security_policy_sync_state: string | null } };
      }[]
    >('GET', '/orgs/1/workloads');
    const mine = w.body.filter(
      (x) => x.container_cluster?.href === clusterHref && x.agent?.status.security_policy_sync_state === 'applied',
    );
    for (const x of mine) nodeWorkloads[x.hostname] = x.href;
    const cluster = await call<{ online: boolean; nodes: { machine_id: string | null }[] }>('GET', clusterHref);
    const kubelinkUp =
      cluster.body.online && cluster.body.nodes.filter((n) => n.machine_id).length === lab.nodes.length;
    if (lab.nodes.every((n) => nodeWorkloads[n.name]) && kubelinkUp) break;
    for (const [node, a] of agents)
      if (a.exitCode !== null)
        throw new Error(`the C-VEN of ${node} exited (${a.exitCode}); see ${join(dir, 'logs', `cven-${node}.log`)}`);
    if (i > 600)
      throw new Error('the agents did not report their policy applied, or Kubelink the cluster, within 60 s');
    await sleep(100);
  }

  if (opts.shop) {
    log('starting the sample shop (shop-prod, shop-dev) and its traffic');
    // Kubernetes labels app/role/env/loc become Bulkhead labels of the same keys.
    await call('PUT', clusterHref, {
      label_map: { pods: { app: 'app', role: 'role', env: 'env', loc: 'loc' }, nodes: {} },
    });
    await applyFile(labApi(opts.labName), SHOP_YAML, () => undefined);
    for (const ns of ['shop-prod', 'shop-dev']) {
      let href: string | undefined;
      for (let i = 0; i < 200 && !href; i++) {
        const ps = await call<{ href: string; namespace: string | null }[]>(
          'GET',
          `${clusterHref}/container_workload_profiles`,
        );
        href = ps.body.find((p) => p.namespace === ns)?.href;
        if (!href) await sleep(100);
      }
      if (href) await call('PUT', href, { managed: true, enforcement_mode: 'visibility_only' });
      else log(`no profile for ${ns} after 20 s; the shop's flows will not be reported`);
    }
  }

  const stop = (): Promise<void> => started.stop!();

  return {
    dir,
    lab,
    pceUrl,
    localUrl,
    ca,
    owner,
    clusterHref,
    api: call,
    nodeWorkloads,
    startKubelink,
    stopKubelink,
    startAgent,
    stopAgent,
    startPce,
    stopPce,
    stop,
  };
}
