// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged, end to end: the agents run exactly as the chart's containers
// would. The chart is rendered (Go text/template + sprig, tests/chart/render;
// no helm binary exists here) with lab values, and the lab's C-VENs and
// Kubelink are started with the rendered containers' command, arguments and
// environment. Only what the kubelet would provide is played by the test:
// host paths become the lab node's paths, ConfigMap mounts become temporary
// files, secretKeyRef and fieldRef become their values, hostNetwork is the
// node's network namespace (nsenter --net), and Kubelink's service account
// (KUBERNETES_SERVICE_* and the token mount) is the lab API server's, mounted
// in a private mount namespace. Then the agents must pair, sync and enforce,
// and answer the rendered probes. Needs `npm run build` and root.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULKHEAD_BIN, startDemo, type AgentLaunch, type Demo, type LaunchContext } from '../lab/src/demo.js';
import {
  eventually,
  freePort,
  label,
  labApply,
  must,
  podYaml,
  profileOf,
  provision,
  rssMiB,
  shortName,
  tcpFrom,
} from '../lab/src/demo-support.js';
import { labStatus } from '../lab/src/status.js';
import {
  containerOf,
  envOf,
  one,
  removeValuesFile,
  renderOk,
  valuesFile,
  type K8sObject,
  type Rendered,
} from './render.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
/** Where the service account token and CA appear in a pod (fixed by Kubernetes and its clients). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Volume {
  name: string;
  hostPath?: { path: string };
  configMap?: { name: string };
  emptyDir?: object;
}

/** Parse Kubernetes quantities like 256Mi into MiB. */
function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/**
 * The process a workload's container would be, on a lab node: the kubelet's
 * part done by the test (see the file's header), nothing else changed.
 */
function containerProcess(
  r: Rendered,
  workload: K8sObject,
  opts: { scratch: string; hostPaths: Record<string, string>; nodeName?: string },
): AgentLaunch {
  const c = containerOf(workload);
  const volumes = workload.spec.template.spec.volumes as Volume[];
  // Each mount's directory or file as the lab has it.
  const mounts: { at: string; local: string }[] = [];
  for (const m of c.volumeMounts as { name: string; mountPath: string }[]) {
    const v = volumes.find((x) => x.name === m.name)!;
    if (v.hostPath) {
      const local = opts.hostPaths[v.hostPath.path];
      if (local) mounts.push({ at: m.mountPath, local });
    } else if (v.configMap) {
      const cm = one(r, 'ConfigMap', v.configMap.name);
      const dir = join(opts.scratch, `configmap-${v.name}`);
      mkdirSync(dir, { recursive: true });
      for (const [k, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(dir, k), text);
      mounts.push({ at: m.mountPath, local: dir });
    }
  }
  const mapPath = (value: string): string => {
    const scheme = /^[a-z]+:\/\//.exec(value)?.[0] ?? '';
    const p = value.slice(scheme.length);
    for (const m of mounts) if (p === m.at || p.startsWith(`${m.at}/`)) return scheme + m.local + p.slice(m.at.length);
    if (p.startsWith('/')) throw new Error(`${value}: a path in no mounted volume the lab maps`);
    return value;
  };
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [name, e] of envOf(c)) {
    const from = e.valueFrom as
      { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } | undefined;
    if (e.value !== undefined) env[name] = mapPath(e.value);
    else if (from?.fieldRef?.fieldPath === 'spec.nodeName' && opts.nodeName) env[name] = opts.nodeName;
    else if (from?.secretKeyRef) {
      const s = one(r, 'Secret', from.secretKeyRef.name);
      env[name] = Buffer.from(s.data[from.secretKeyRef.key], 'base64').toString();
    } else throw new Error(`env ${name}: nothing in the lab provides ${JSON.stringify(from)}`);
  }
  // The image's `bulkhead` is this checkout's bin/bulkhead.js (cven/Containerfile installs it so).
  expect(c.command).toEqual(['bulkhead']);
  return { command: process.execPath, args: [BULKHEAD_BIN, ...c.args], env };
}

describe.skipIf(!isRoot)(
  'the chart-rendered agents on the lab (privileged; rendered with Go text/template + sprig, no helm here)',
  () => {
    let demo: Demo;
    let rendered: Rendered;
    let values = '';
    const dir = `/tmp/${shortName('bh-chart-')}`;
    const pods: Record<string, { ip: string; netnsPath: string; node: string }> = {};

    const launch = async (ctx: LaunchContext) => {
      values = valuesFile({
        pceUrl: ctx.pceUrl,
        pceCa: readFileSync(ctx.ca, 'utf8'),
        clusterId: ctx.clusterId,
        clusterToken: ctx.clusterToken,
        activationCode: ctx.activationCode,
        logLevel: 'debug',
        kubelink: { serviceCidr: ctx.lab.serviceCIDR },
      });
      rendered = await renderOk([values]);
      const ds = one(rendered, 'DaemonSet');
      const deploy = one(rendered, 'Deployment');
      const hostPathsOf = (node: string): Record<string, string> => {
        const i = ctx.lab.nodes.findIndex((n) => n.name === node);
        const n = ctx.lab.nodes[i]!;
        return {
          '/run/containerd/containerd.sock': n.criSocket,
          '/etc/machine-id': join(ctx.lab.dir, `n${i}`, 'machine-id'),
          '/var/lib/bulkhead/cven': join(ctx.dir, 'cven', node),
        };
      };
      // Kubelink's service account, as the kubelet mounts it: the lab API server's CA and token.
      const kc = parse(readFileSync(ctx.lab.apiServer.kubeconfig, 'utf8')) as {
        clusters: { cluster: { 'certificate-authority-data': string } }[];
        users: { user: { token: string } }[];
      };
      const sa = join(ctx.dir, 'serviceaccount');
      mkdirSync(sa, { recursive: true, mode: 0o700 });
      writeFileSync(join(sa, 'ca.crt'), Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64'));
      writeFileSync(join(sa, 'token'), kc.users[0]!.user.token);
      writeFileSync(join(sa, 'namespace'), 'bulkhead-system');
      const api = new URL(ctx.lab.apiServer.url);
      return {
        cven: (node: string) =>
          containerProcess(rendered, ds, {
            scratch: join(ctx.dir, 'cven-mounts'),
            hostPaths: hostPathsOf(node),
            nodeName: node,
          }),
        kubelink: () => {
          const p = containerProcess(rendered, deploy, { scratch: join(ctx.dir, 'kubelink-mounts'), hostPaths: {} });
          // A private mount namespace shows the service account where in-cluster config reads it.
          return {
            command: 'unshare',
            args: [
              '--mount',
              '--propagation',
              'private',
              '--',
              'sh',
              '-c',
              `mount -t tmpfs bh-chart /run && mkdir -p ${SERVICE_ACCOUNT_DIR} && mount --bind "$0" ${SERVICE_ACCOUNT_DIR} && exec "$@"`,
              sa,
              p.command,
              ...p.args,
            ],
            env: { ...p.env, KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port || '443' },
          };
        },
      };
    };

    beforeAll(async () => {
      // startDemo returns once every node's agent has paired and reported its policy applied,
      // and Kubelink has reported every node: pairing and sync, through the rendered settings.
      try {
        demo = await startDemo({
          dir,
          labName: shortName('chart'),
          nodes: 2,
          pcePort: await freePort(),
          nodeMode: 'visibility_only',
          launch,
        });
      } catch (err) {
        // The agents' own words are what says why; the directory goes in afterAll.
        for (const f of existsSync(join(dir, 'logs')) ? readdirSync(join(dir, 'logs')) : [])
          process.stderr.write(`--- ${f}\n${readFileSync(join(dir, 'logs', f), 'utf8').slice(-3000)}\n`);
        throw err;
      }
    }, 240_000);

    afterAll(async () => {
      await demo?.stop();
      if (values) removeValuesFile(values);
      rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    it('each C-VEN paired with the rendered activation code and applied its policy; Kubelink reported the cluster', async () => {
      const workloads = await must<
        {
          hostname: string;
          container_cluster?: { href: string };
          agent?: { status: { security_policy_sync_state: string | null } };
        }[]
      >(demo, 'GET', '/orgs/1/workloads');
      for (const n of demo.lab.nodes) {
        const w = workloads.find((x) => x.hostname === n.name && x.container_cluster?.href === demo.clusterHref);
        expect(w?.agent?.status.security_policy_sync_state, n.name).toBe('applied');
      }
      const cluster = await must<{
        online: boolean;
        nodes: { name: string; machine_id: string }[];
        service_networks?: string[];
      }>(demo, 'GET', demo.clusterHref);
      expect(cluster.online).toBe(true);
      expect(cluster.nodes.map((n) => `${n.name} ${n.machine_id}`).sort()).toEqual(
        demo.lab.nodes.map((n) => `${n.name} ${n.machineId}`).sort(),
      );
    });

    it("the rendered liveness and readiness probes pass against each node's agent (127.0.0.1 in the node's network)", async () => {
      const c = containerOf(one(rendered, 'DaemonSet'));
      for (const probe of [c.livenessProbe.httpGet, c.readinessProbe.httpGet] as {
        host: string;
        port: number;
        path: string;
      }[])
        for (const n of demo.lab.nodes) {
          const { stdout } = await run('nsenter', [
            `--net=${n.netnsPath}`,
            'curl',
            '-s',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `http://${probe.host}:${probe.port}${probe.path}`,
          ]);
          expect(stdout, `${n.name} ${probe.path}`).toBe('200');
        }
    });

    it("the agents stay under the chart's memory limits", () => {
      // Our agents, found by the state directory in their environment (other sessions run agents too).
      const mine = (needle: string): number[] =>
        readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .filter((p) => {
            try {
              return readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(needle);
            } catch {
              return false;
            }
          })
          .map(Number);
      const cvenLimit = mebibytes(containerOf(one(rendered, 'DaemonSet')).resources.limits.memory);
      const agents = demo.lab.nodes.flatMap((n) => mine(`BULKHEAD_STATE_DIR=${join(dir, 'cven', n.name)}`));
      expect(agents.length).toBe(demo.lab.nodes.length);
      for (const pid of agents) expect(rssMiB(pid)).toBeLessThan(cvenLimit);
      const kubelinkLimit = mebibytes(containerOf(one(rendered, 'Deployment')).resources.limits.memory);
      const kubelinks = mine(`BULKHEAD_CLUSTER_ID=${demo.clusterHref.split('/').pop()}`).filter((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kubelink'),
      );
      expect(kubelinks.length).toBe(1);
      expect(rssMiB(kubelinks[0]!)).toBeLessThan(kubelinkLimit);
    });

    it('enforces: in a managed namespace in full mode, the allowed pod connects across nodes and the other is blocked', async () => {
      const app = await label(demo, 'app', 'chart');
      const roles = {
        srv: await label(demo, 'role', 'srv'),
        ok: await label(demo, 'role', 'ok'),
        no: await label(demo, 'role', 'no'),
      };
      const [n0, n1] = demo.lab.nodes.map((n) => n.name);
      await labApply(
        demo,
        `apiVersion: v1\nkind: Namespace\nmetadata: {name: chart}\n` +
          podYaml('chart', 'srv', { role: 'srv', ports: [8080], node: n0 }) +
          podYaml('chart', 'ok', { role: 'ok', node: n1 }) +
          podYaml('chart', 'no', { role: 'no', node: n0 }),
      );
      const profile = await profileOf(demo, 'chart');
      await must(demo, 'PUT', profile, {
        managed: true,
        enforcement_mode: 'full',
        labels: [{ key: 'app', assignment: { href: app } }],
      });
      // Role labels from the pods' annotations (bulkhead.io/role), as podYaml sets them.
      const rs = await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/rule_sets', {
        name: 'chart',
        scopes: [[{ label: { href: app } }]],
      });
      await must(demo, 'POST', `${rs.href}/sec_rules`, {
        enabled: true,
        providers: [{ label: { href: roles.srv } }],
        consumers: [{ label: { href: roles.ok } }],
        ingress_services: [{ port: 8080, proto: 6 }],
        resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
      });
      await provision(demo, 'chart test rules');
      await eventually('the chart test pods running', async () => {
        const s = (await labStatus(demo.lab.name))!;
        for (const p of s.pods)
          if (p.namespace === 'chart' && p.ip && p.netnsPath)
            pods[p.name] = { ip: p.ip, netnsPath: p.netnsPath, node: p.node };
        return ['srv', 'ok', 'no'].every((n) => pods[n]);
      });
      expect(pods.ok!.node).not.toBe(pods.srv!.node);
      await eventually(
        'ok -> srv:8080 to answer',
        async () => (await tcpFrom(pods.ok!.netnsPath, pods.srv!.ip, 8080)) === 'pong',
        30_000,
        100,
      );
      expect(await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 8080)).toBe('timed_out');
    }, 90_000);
  },
);
