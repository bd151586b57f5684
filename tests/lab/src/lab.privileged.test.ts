// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: creates network namespaces, a bridge, veths, nft tables and
// containerd instances (root). One two-node lab for the whole file (built
// `dist/labd.js` required: `npm test` builds first).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labApi, type LabApi } from './client.js';
import { CriClient } from './cri/client.js';
import { labDown, labUp } from './lab.js';
import { run } from './sh.js';
import { labStatus, type LabStatus } from './status.js';

const root = process.getuid?.() === 0;
const NAME = `bh-t${randomBytes(3).toString('hex')}`;

type Pod = LabStatus['pods'][number];

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const podIn = (ns: string, name: string) => async (): Promise<Pod | undefined> =>
  (await labStatus(NAME))?.pods.find((p) => p.namespace === ns && p.name === name && p.ip !== '');

/** TCP from a pod's network namespace (the host's bash, the pod's network). */
async function tcpFrom(pod: Pod, ip: string, port: number): Promise<string> {
  const r = await run(
    ['nsenter', `--net=${pod.netnsPath}`, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}; cat <&3`],
    {
      allowFail: true,
    },
  );
  return r.stdout.trim();
}

/** A UDP echo server in a pod's network namespace, for `ms` milliseconds (busybox nc has no UDP here). */
function udpEcho(pod: Pod, port: number, ms: number): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(${port},()=>console.log('ready'));setTimeout(()=>process.exit(0),${ms});`;
  const child = spawn('nsenter', [`--net=${pod.netnsPath}`, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
}

async function udpFrom(pod: Pod, ip: string, port: number): Promise<string> {
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{console.log(String(m));process.exit(0)});s.send('ping',${port},'${ip}');setTimeout(()=>process.exit(1),2000);`;
  const r = await run(['nsenter', `--net=${pod.netnsPath}`, process.execPath, '-e', script], { allowFail: true });
  return r.stdout.trim();
}

const pod = (name: string, node: string | undefined, command: string[], labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'bh-lab-test',
    labels: { app: name, ...labels },
    annotations: { 'bulkhead.io/note': name },
  },
  spec: { ...(node ? { nodeName: node } : {}), containers: [{ name: 'main', image: 'busybox', command }] },
});

describe.skipIf(!root)('lab (privileged)', () => {
  let api: LabApi;
  let nodes: string[] = [];

  afterAll(async () => {
    const r = await labDown(NAME);
    expect(r.leftovers).toEqual([]);
  }, 120_000);

  beforeAll(async () => {
    await labUp({ name: NAME, nodes: 2 });
    api = labApi(NAME);
    nodes = (await labStatus(NAME))!.nodes.map((n) => n.name);
    await api.call('POST', '/api/v1/namespaces', { metadata: { name: 'bh-lab-test' } });
  }, 120_000);

  it('reports two nodes with unique machine ids, pod subnets and CRI sockets', async () => {
    const s = (await labStatus(NAME))!;
    expect(s.running).toBe(true);
    expect(new Set(s.nodes.map((n) => n.machineId)).size).toBe(2);
    expect(s.nodes.every((n) => existsSync(n.criSocket) && existsSync(n.netnsPath))).toBe(true);
    const listed = await run(['ip', 'netns', 'list']);
    for (const n of s.nodes) expect(listed.stdout).toContain(n.netns);
    const apiNodes = await api.call<{
      items: { metadata: { name: string }; spec: { podCIDR: string }; status: { nodeInfo: { machineID: string } } }[];
    }>('GET', '/api/v1/nodes');
    expect(
      apiNodes.body.items.map((n) => [n.metadata.name, n.spec.podCIDR, n.status.nodeInfo.machineID]).sort(),
    ).toEqual(s.nodes.map((n) => [n.name, n.podCIDR, n.machineId]).sort());
  });

  it('pods on different nodes reach each other over TCP and UDP', async () => {
    const tcp = ['/bin/busybox', 'nc', '-ll', '-p', '8080', '-e', '/bin/busybox', 'echo', 'pong'];
    for (const [name, node, cmd] of [
      ['srv', nodes[0], tcp],
      ['cli', nodes[1], ['/bin/busybox', 'sleep', '3600']],
    ] as const)
      expect((await api.call('POST', '/api/v1/namespaces/bh-lab-test/pods', pod(name, node, [...cmd]))).status).toBe(
        201,
      );
    const srv = await until('srv running', podIn('bh-lab-test', 'srv'));
    const cli = await until('cli running', podIn('bh-lab-test', 'cli'));
    expect(srv.node).not.toBe(cli.node);
    expect(
      await until('TCP answer', async () => ((await tcpFrom(cli, srv.ip, 8080)) === 'pong' ? 'pong' : undefined)),
    ).toBe('pong');
    await udpEcho(srv, 9090, 5000);
    expect(await udpFrom(cli, srv.ip, 9090)).toBe('echo:ping');
  });

  it('a pod created through the API gets an IP, runs with its labels in CRI, and deleting it removes its sandbox', async () => {
    await api.call(
      'POST',
      '/api/v1/namespaces/bh-lab-test/pods',
      pod('lonely', undefined, ['/bin/busybox', 'sleep', '3600'], { role: 'db' }),
    );
    const p = await until('lonely running', podIn('bh-lab-test', 'lonely'));
    expect(p.labels).toMatchObject({ app: 'lonely', role: 'db' });
    const obj = await until('status written back', async () => {
      const r = await api.call<{ spec: { nodeName: string }; status: { phase: string; podIP: string } }>(
        'GET',
        '/api/v1/namespaces/bh-lab-test/pods/lonely',
      );
      return r.body.status.phase === 'Running' ? r : undefined;
    });
    expect(obj.body.status).toMatchObject({ phase: 'Running', podIP: p.ip });
    expect(obj.body.spec.nodeName).toBe(p.node);
    const cri = new CriClient((await labStatus(NAME))!.nodes.find((n) => n.name === p.node)!.criSocket);
    try {
      const box = (await cri.listPodSandbox()).find((b) => b.metadata.uid === p.uid)!;
      expect(box.annotations).toMatchObject({ 'bulkhead.io/note': 'lonely' });
      expect(box.labels).toMatchObject({ 'io.kubernetes.pod.namespace': 'bh-lab-test', role: 'db' });
      expect((await api.call('DELETE', '/api/v1/namespaces/bh-lab-test/pods/lonely')).status).toBe(200);
      await until('sandbox removed', async () =>
        (await cri.listPodSandbox()).some((b) => b.metadata.uid === p.uid) ? undefined : true,
      );
    } finally {
      cri.close();
    }
    expect(existsSync(p.netnsPath)).toBe(false);
  });

  it('expands a Deployment into ReplicaSet-owned pods spread over the nodes and gives its Service an EndpointSlice', async () => {
    await api.call('POST', '/apis/apps/v1/namespaces/bh-lab-test/deployments', {
      metadata: { name: 'web' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ name: 'web', image: 'busybox:1.36', command: ['/bin/busybox', 'httpd', '-f', '-p', '80'] }],
          },
        },
      },
    });
    await api.call('POST', '/api/v1/namespaces/bh-lab-test/services', {
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    });
    const slice = await until('4 endpoints', async () => {
      const r = await api.call<{
        items: {
          endpoints: { addresses: string[]; conditions: { ready: boolean } }[];
          metadata: { labels: Record<string, string> };
        }[];
      }>(
        'GET',
        '/apis/discovery.k8s.io/v1/namespaces/bh-lab-test/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb',
      );
      const s = r.body.items[0];
      return s && s.endpoints.filter((e) => e.conditions.ready).length === 4 ? s : undefined;
    });
    const pods = await api.call<{
      items: {
        spec: { nodeName: string };
        status: { podIP: string };
        metadata: { ownerReferences: { kind: string }[] };
      }[];
    }>('GET', '/api/v1/namespaces/bh-lab-test/pods?labelSelector=app%3Dweb');
    expect(pods.body.items.every((p) => p.metadata.ownerReferences[0]?.kind === 'ReplicaSet')).toBe(true);
    expect(new Set(pods.body.items.map((p) => p.spec.nodeName)).size).toBe(2);
    expect(slice.endpoints.map((e) => e.addresses[0]).sort()).toEqual(
      pods.body.items.map((p) => p.status.podIP).sort(),
    );
  });

  it("resolves names through the outside world's DNS and reaches it with the node's address (SNAT)", async () => {
    const s = (await labStatus(NAME))!;
    const cli = s.pods.find((p) => p.name === 'cli')!;
    const node = s.nodes.find((n) => n.name === cli.node)!;
    const ns = await run([
      'nsenter',
      `--net=${cli.netnsPath}`,
      'busybox',
      'nslookup',
      'api.example.test',
      s.outside.dns,
    ]);
    const apiIp = ns.stdout.match(/Address: (198\.18\.\d+\.\d+)\s*$/m)?.[1];
    expect(apiIp).toBeDefined();
    const svc = await run([
      'nsenter',
      `--net=${cli.netnsPath}`,
      'busybox',
      'nslookup',
      'web.bh-lab-test.svc.cluster.local',
      s.outside.dns,
    ]);
    expect(svc.stdout).toMatch(/Address: 198\.19\./);
    // Hold a connection open from the pod and look at it from the outside world.
    const hold = spawn('nsenter', [
      `--net=${cli.netnsPath}`,
      'timeout',
      '3',
      'bash',
      '-c',
      `exec 3<>/dev/tcp/${apiIp}/80; sleep 2`,
    ]);
    try {
      const peers = await until(
        'connection seen outside',
        async () => {
          const r = await run([
            'ip',
            'netns',
            'exec',
            s.outside.netns,
            'ss',
            '-Htn',
            'state',
            'established',
            '( sport = :80 )',
          ]);
          return r.stdout.trim() ? r.stdout : undefined;
        },
        3000,
      );
      expect(peers).toMatch(new RegExp(`${node.ip.replace(/\./g, '\\.')}\\]?:\\d+`));
      expect(peers).not.toContain(cli.ip);
    } finally {
      hold.kill();
    }
  });
});
