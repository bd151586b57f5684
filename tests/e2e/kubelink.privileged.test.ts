// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged, end to end: a real PCE, a lab cluster and its API server, Kubelink
// and a C-VEN per node. Kubelink's picture in the PCE is compared with the
// cluster's after every disruption. Needs `npm run build` and root.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labApi } from '../lab/src/client.js';
import { BULKHEAD_BIN, startDemo, type Demo } from '../lab/src/demo.js';
import {
  eventually,
  freePort,
  label,
  labApply,
  must,
  podYaml,
  profileOf,
  provision,
  shortName,
  sleep,
  tcpFrom,
} from '../lab/src/demo-support.js';
import { readRecord } from '../lab/src/state.js';
import { labStatus } from '../lab/src/status.js';

const isRoot = process.getuid?.() === 0;
const run = promisify(execFile);

interface K8sList<T> {
  items: T[];
}
interface K8sMeta {
  metadata: { name: string; namespace?: string; uid: string; labels?: Record<string, string> };
}

describe.skipIf(!isRoot)('Kubelink on the lab (privileged)', () => {
  let demo: Demo;
  const L: Record<string, string> = {};

  const k8s = <T>(method: string, path: string, body?: unknown, type?: string) =>
    labApi(demo.lab.name).call<T>(method, path, body, type);

  /** The PCE's picture matches the cluster's: a linked profile per namespace, the nodes, a virtual service per service of managed namespaces. */
  const pictureMatches = async (): Promise<boolean> => {
    const nss = (await k8s<K8sList<K8sMeta>>('GET', '/api/v1/namespaces')).body.items
      .map((n) => n.metadata.name)
      .sort();
    const profiles = await must<{ namespace: string | null; linked: boolean; managed: boolean }[]>(
      demo,
      'GET',
      `${demo.clusterHref}/container_workload_profiles`,
    );
    const linked = profiles
      .filter((p) => p.namespace !== null && p.linked)
      .map((p) => p.namespace!)
      .sort();
    if (JSON.stringify(linked) !== JSON.stringify(nss)) return false;
    const cluster = await must<{ nodes: { name: string; machine_id: string; pod_subnet: string }[] }>(
      demo,
      'GET',
      demo.clusterHref,
    );
    const st = (await labStatus(demo.lab.name))!;
    const want = st.nodes.map((n) => `${n.name} ${n.machineId} ${n.podCIDR}`).sort();
    if (
      JSON.stringify(cluster.nodes.map((n) => `${n.name} ${n.machine_id} ${n.pod_subnet}`).sort()) !==
      JSON.stringify(want)
    )
      return false;
    const managed = new Set(profiles.filter((p) => p.managed && p.namespace).map((p) => p.namespace!));
    const svcs = (await k8s<K8sList<K8sMeta>>('GET', '/api/v1/services')).body.items
      .filter((s) => managed.has(s.metadata.namespace!))
      .map((s) => `${s.metadata.name}.${s.metadata.namespace}`)
      .sort();
    const vss = (
      await must<{ name: string; managed_by: string }[]>(demo, 'GET', '/orgs/1/sec_policy/active/virtual_services')
    )
      .filter((v) => v.managed_by === 'kubelink')
      .map((v) => v.name.replace(/ \(.*\)$/, ''))
      .sort();
    return JSON.stringify(vss) === JSON.stringify(svcs);
  };

  beforeAll(async () => {
    demo = await startDemo({
      dir: `/tmp/${shortName('bh-e2e-')}`,
      labName: shortName('k'),
      nodes: 2,
      pcePort: await freePort(),
    });
    for (const [k, v] of [
      ['app', 'kl'],
      ['role', 'klweb'],
      ['role', 'klsrv'],
    ] as const)
      L[`${k}=${v}`] = await label(demo, k, v);
    // Kubernetes label `tier` → Bulkhead label key `role`.
    await must(demo, 'PUT', demo.clusterHref, { label_map: { pods: { tier: 'role' }, nodes: {} } });
  }, 180_000);

  afterAll(async () => {
    await demo?.stop();
  }, 120_000);

  it('a namespace appears as a profile within 2 s; a node with its machine id and pod subnet', async () => {
    const t0 = Date.now();
    await k8s('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kl-a' } });
    await profileOf(demo, 'kl-a');
    expect(Date.now() - t0).toBeLessThan(2000);
    await eventually('the PCE picture to match the cluster', pictureMatches, 10_000);
  });

  it('a service of a managed namespace becomes an active virtual service with its backends', async () => {
    await labApply(
      demo,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: kl-b}\n` +
        podYaml('kl-b', 'srv', { ports: [8080], labels: { tier: 'klsrv', app: 'srv' } }) +
        `---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: kl-b}\nspec: {selector: {app: srv}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}\n`,
    );
    const profile = await profileOf(demo, 'kl-b');
    await must(demo, 'PUT', profile, {
      managed: true,
      enforcement_mode: 'full',
      labels: [{ key: 'app', assignment: { href: L['app=kl'] } }],
    });
    const vs = await eventually(
      'the virtual service with a backend',
      async () =>
        (
          await must<
            {
              href: string;
              name: string;
              backends: { href: string }[];
              service_ports: { port: number; proto: number }[];
              managed_by: string;
            }[]
          >(demo, 'GET', '/orgs/1/sec_policy/active/virtual_services')
        ).find((v) => v.name.startsWith('web.kl-b') && v.backends.length === 1),
      20_000,
    );
    expect(vs.managed_by).toBe('kubelink');
    expect(vs.service_ports).toEqual([{ port: 8080, proto: 6 }]); // the port the pods listen on
    const pending = await must<Record<string, unknown[]>>(demo, 'GET', '/orgs/1/sec_policy/pending');
    expect(JSON.stringify(pending)).not.toContain('web.kl-b'); // active at once, nothing to provision
    const edit = await demo.api('PUT', vs.href, { description: 'mine' });
    expect(edit.status).toBe(406); // kept by Kubelink, not by users
  });

  it("changing a pod's Kubernetes label changes its container workload's labels and what its peers enforce", async () => {
    await labApply(demo, podYaml('kl-b', 'cli', { labels: { tier: 'other' } }));
    const rs = (
      await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/rule_sets', {
        name: 'kl',
        scopes: [[{ label: { href: L['app=kl'] } }]],
      })
    ).href;
    await must(demo, 'POST', `${rs}/sec_rules`, {
      enabled: true,
      providers: [{ label: { href: L['role=klsrv'] } }],
      consumers: [{ label: { href: L['role=klweb'] } }],
      ingress_services: [{ port: 8080, proto: 6 }],
      resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
      unscoped_consumers: false,
    });
    await provision(demo, 'kl');
    const pods = await eventually('pods running', async () => {
      const s = (await labStatus(demo.lab.name))!;
      const by = Object.fromEntries(s.pods.filter((p) => p.namespace === 'kl-b' && p.ip).map((p) => [p.name, p]));
      return by.srv && by.cli ? by : undefined;
    });
    const cw = async () =>
      (
        await must<{ name: string; labels: { key: string; value: string }[] }[]>(
          demo,
          'GET',
          '/orgs/1/container_workloads?namespace=kl-b',
        )
      ).find((w) => w.name === 'cli');
    await eventually('cli labelled role=other from the label map', async () =>
      (await cw())?.labels.some((l) => l.key === 'role' && l.value === 'other'),
    );
    await eventually(
      'cli blocked',
      async () => (await tcpFrom(pods.cli!.netnsPath, pods.srv!.ip, 8080)) === 'timed_out',
      15_000,
    );
    await k8s(
      'PATCH',
      '/api/v1/namespaces/kl-b/pods/cli',
      { metadata: { labels: { tier: 'klweb' } } },
      'application/merge-patch+json',
    );
    await eventually('cli labelled role=klweb', async () =>
      (await cw())?.labels.some((l) => l.key === 'role' && l.value === 'klweb'),
    );
    await eventually(
      'cli allowed',
      async () => (await tcpFrom(pods.cli!.netnsPath, pods.srv!.ip, 8080)) === 'pong',
      15_000,
    );
  });

  it('recovers from a cut watch stream, a 410, an API server restart and a PCE restart', async () => {
    const api = labApi(demo.lab.name);
    // Cut every watch, then change the cluster.
    await api.call('POST', '/lab/v1/cut-watches');
    await k8s('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kl-cut' } });
    await eventually('the picture after a cut stream', pictureMatches, 20_000);
    // Forget history: resuming watches get 410 and relist.
    await api.call('POST', '/lab/v1/compact');
    await api.call('POST', '/lab/v1/cut-watches');
    await k8s('DELETE', '/api/v1/namespaces/kl-a');
    await eventually('the picture after a 410', pictureMatches, 20_000);
    // The API server (the lab daemon) dies and comes back.
    process.kill(readRecord(demo.lab.name)!.labdPid!, 'SIGKILL');
    await sleep(500);
    await run(process.execPath, [BULKHEAD_BIN, 'lab', 'up', '--name', demo.lab.name, '--nodes', '2', '-q'], {
      timeout: 60_000,
    });
    // The lab's recovery rebuilds the node namespaces too (a node reboot, for the agents in them): restart them.
    for (const n of demo.lab.nodes) {
      await demo.stopAgent(n.name);
      await demo.startAgent(n.name);
    }
    await k8s('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kl-restart' } });
    await eventually('the picture after an API server restart', pictureMatches, 40_000, 500);
    // The PCE goes away while the cluster changes.
    await demo.stopPce();
    await k8s('DELETE', '/api/v1/namespaces/kl-cut');
    await k8s('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'kl-while-away' },
    });
    await sleep(1000);
    await demo.startPce();
    await eventually('the picture after a PCE restart', pictureMatches, 40_000, 500);
  }, 180_000);

  it('with Kubelink stopped, a new pod in a managed namespace still gets its policy', async () => {
    await demo.stopKubelink();
    await labApply(demo, podYaml('kl-b', 'late', {}));
    const late = await eventually('late running', async () =>
      (await labStatus(demo.lab.name))!.pods.find((p) => p.namespace === 'kl-b' && p.name === 'late' && p.ip),
    );
    const srv = (await labStatus(demo.lab.name))!.pods.find((p) => p.namespace === 'kl-b' && p.name === 'srv')!;
    // late has no role: full mode blocks it, which only its own (and srv's) policy can do.
    await eventually(
      'late enforced',
      async () => (await tcpFrom(late.netnsPath, srv.ip, 8080)) === 'timed_out',
      15_000,
    );
    // Its own compiled policy reached its node (not only the fail-closed table of a pod not yet known).
    const cw = await eventually('late as a container workload', async () =>
      (
        await must<{ href: string; name: string; node: { href: string } }[]>(
          demo,
          'GET',
          '/orgs/1/container_workloads?namespace=kl-b',
        )
      ).find((w) => w.name === 'late'),
    );
    await eventually("late in its node's policy", async () =>
      (
        await must<{ policy: { workloads: { href: string }[] } }>(demo, 'GET', `${cw.node.href}/policy`)
      ).policy.workloads.some((w) => w.href === cw.href),
    );
    await demo.startKubelink();
  }, 60_000);
});
