// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The chart's render tests. No helm binary exists here (no Debian or npm
// package ships it), so the chart is rendered by tests/chart/render: Go's
// text/template with sprig from Debian, the engine Helm is built on, plus the
// functions Helm adds. Every rendered object is validated against the
// Kubernetes schemas (kubernetes-models); bad values must fail with messages
// that name them. Needs golang-go and golang-github-masterminds-sprig-dev.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHART,
  MODELS,
  REPO,
  VALUES,
  buildRenderer,
  containerOf,
  envOf,
  one,
  removeValuesFile,
  render,
  renderOk,
  valuesFile,
  type Rendered,
} from './render.js';

const MINIMAL = join(VALUES, 'minimal.yaml');
const SCENARIOS: Record<string, string[]> = {
  minimal: [MINIMAL],
  'existing-secrets': [join(VALUES, 'existing-secrets.yaml')],
  'kubelink-only': [MINIMAL, join(VALUES, 'kubelink-only.yaml')],
  'cven-only': [MINIMAL, join(VALUES, 'cven-only.yaml')],
};
const CLUSTER_ID = '3f2a9c4e-1b7d-4e8a-9c21-5d6e7f8a9b0c';

describe('bulkhead chart rendered with Go text/template + sprig from Debian (tests/chart/render; no helm binary exists here)', () => {
  const rendered: Record<string, Rendered> = {};
  const temp: string[] = [];
  /** Render minimal.yaml with `over` on top. */
  const renderOver = (over: unknown) => {
    const f = valuesFile(over);
    temp.push(f);
    return render([MINIMAL, f]);
  };

  beforeAll(async () => {
    buildRenderer();
    for (const [name, files] of Object.entries(SCENARIOS)) rendered[name] = await renderOk(files);
  }, 120_000);
  afterAll(() => temp.forEach(removeValuesFile));

  it('with its defaults, fails before rendering anything and names all five required values', async () => {
    const r = await render([]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain('execution error at (bulkhead/templates/validate.yaml');
    expect(r.error).toContain('5 value(s) need fixing');
    for (const want of [
      'pceUrl is required',
      'pceCa is required',
      'clusterId is required',
      'clusterToken is required',
      'activationCode is required',
    ])
      expect(r.error).toContain(want);
  });

  it('with every required value null (a user null deletes the default), still reaches validate.yaml and names all five', async () => {
    const r = await renderOver({
      pceUrl: null,
      pceCa: null,
      clusterId: null,
      clusterToken: null,
      activationCode: null,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain('validate.yaml');
    if (!r.ok) expect(r.error).toContain('5 value(s) need fixing');
  });

  it.each(Object.keys(SCENARIOS))('%s: every rendered object passes its Kubernetes schema', (name) => {
    const r = rendered[name]!;
    expect(r.objects.length).toBeGreaterThan(0);
    for (const o of r.objects) {
      const model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(model, `no kubernetes-models class for ${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => model!.validate(o), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(o.metadata.labels['app.kubernetes.io/managed-by']).toBe('Helm');
      if (!o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBe('bulkhead-system');
    }
    const names = r.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('the schemas reject a malformed object (the validation is not a no-op)', () => {
    const ds = structuredClone(one(rendered.minimal!, 'DaemonSet'));
    containerOf(ds).ports[0].containerPort = 'health';
    expect(() => MODELS['apps/v1/DaemonSet']!.validate(ds)).toThrow(/containerPort/);
  });

  it('renders each part only where it is enabled', () => {
    const kinds = (name: string) => rendered[name]!.objects.map((o) => o.kind).sort();
    expect(kinds('minimal')).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'Deployment',
      'Pod',
      'Secret',
      'Secret',
      'ServiceAccount',
    ]);
    expect(kinds('kubelink-only')).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'Secret',
      'ServiceAccount',
    ]);
    expect(kinds('cven-only')).toEqual(['ConfigMap', 'DaemonSet', 'Pod', 'Secret']);
    // The user's own Secrets, ConfigMap and ServiceAccount: the chart makes none of them.
    expect(kinds('existing-secrets')).toEqual(['DaemonSet', 'Deployment', 'Pod']);
  });

  it('C-VEN: one per node on the host network and PIDs, node-critical, tolerating every taint', () => {
    const ds = one(rendered.minimal!, 'DaemonSet');
    const spec = ds.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostPID).toBe(true);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.dnsPolicy).toBe('Default');
  });

  it('C-VEN: rolling updates replace one node at a time and never run two agents on a node', () => {
    const ds = one(rendered.minimal!, 'DaemonSet');
    expect(ds.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    expect(one(rendered['existing-secrets']!, 'DaemonSet').spec.updateStrategy.rollingUpdate.maxUnavailable).toBe(
      '10%',
    );
  });

  it("C-VEN: liveness and readiness ask the agent's own /healthz and /readyz on 127.0.0.1 at its health listener", () => {
    for (const [name, port] of [
      ['minimal', 9102],
      ['existing-secrets', 19102],
    ] as const) {
      const c = containerOf(one(rendered[name]!, 'DaemonSet'));
      expect(c.livenessProbe.httpGet).toEqual({ host: '127.0.0.1', path: '/healthz', port });
      expect(c.readinessProbe.httpGet).toEqual({ host: '127.0.0.1', path: '/readyz', port });
      expect(envOf(c).get('BULKHEAD_HEALTH_LISTEN')?.value).toBe(`127.0.0.1:${port}`);
      expect(c.resources.limits.memory).toBeDefined();
      expect(c.resources.requests.cpu).toBeDefined();
    }
  });

  it('C-VEN: root with only the justified capabilities (all others dropped), not privileged', () => {
    const sc = containerOf(one(rendered.minimal!, 'DaemonSet')).securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect(sc.capabilities.add).toEqual(['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'BPF', 'PERFMON']);
  });

  it('C-VEN: every capability and every host mount is justified by a comment where it is granted', () => {
    const lines = readFileSync(join(CHART, 'templates', 'cven', 'daemonset.yaml'), 'utf8').split('\n');
    const caps = lines.flatMap((l, i) => (/^\s+- [A-Z_]+$/.test(l) ? [i] : []));
    expect(caps.length).toBe(5);
    for (const i of caps)
      expect(lines[i - 1]!.trim().startsWith('#'), `no comment above ${lines[i]!.trim()}`).toBe(true);
    const ds = one(rendered.minimal!, 'DaemonSet');
    const hostVolumes = ds.spec.template.spec.volumes.filter((v: { hostPath?: unknown }) => v.hostPath);
    expect(hostVolumes.map((v: { hostPath: { path: string } }) => v.hostPath.path).sort()).toEqual([
      '/etc/machine-id',
      '/run/containerd/containerd.sock',
      '/run/netns',
      '/sys/kernel/btf',
      '/var/lib/bulkhead/cven',
    ]);
    for (const v of hostVolumes) {
      const i = lines.findIndex((l, j) => l.trim() === `- name: ${v.name}` && lines[j + 1]!.includes('hostPath:'));
      expect(i, `volume ${v.name}`).toBeGreaterThan(0);
      expect(lines[i - 1]!.trim().startsWith('#'), `no comment above host volume ${v.name}`).toBe(true);
    }
    // Only the state directory is writable.
    const mounts = containerOf(ds).volumeMounts as { name: string; readOnly?: boolean }[];
    const writable = mounts.filter((m) => !m.readOnly).map((m) => m.name);
    expect(writable.sort()).toEqual(['cri-socket', 'state', 'tmp']);
  });

  it('C-VEN: runtime socket, state directory and images follow the values', () => {
    const ds = one(rendered['existing-secrets']!, 'DaemonSet');
    const c = containerOf(ds);
    const env = envOf(c);
    expect(env.get('BULKHEAD_CRI_SOCKET')?.value).toBe('unix:///var/run/crio/crio.sock');
    expect(env.get('BULKHEAD_STATE_DIR')?.value).toBe('/var/lib/corp/bulkhead');
    expect(env.get('BULKHEAD_LOG_LEVEL')?.value).toBe('debug');
    expect(c.image).toBe('registry.corp.example/bulkhead/cven:0.1.0-corp.1');
    expect(c.imagePullPolicy).toBe('Always');
    const paths = ds.spec.template.spec.volumes.map((v: { hostPath?: { path: string } }) => v.hostPath?.path);
    expect(paths).toContain('/var/run/crio/crio.sock');
    expect(paths).toContain('/var/lib/corp/bulkhead');
    expect(ds.spec.template.spec.imagePullSecrets).toEqual([{ name: 'corp-registry' }]);
    expect(ds.spec.template.metadata.labels['corp.example/tier']).toBe('node-agent');
    expect(ds.metadata.labels.team).toBe('platform');
    expect(ds.metadata.annotations['corp.example/owner']).toBe('platform@corp.example');
    // The tag defaults to the chart's appVersion.
    const appVersion = /^appVersion:\s*(\S+)/m.exec(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'))![1];
    expect(containerOf(one(rendered.minimal!, 'DaemonSet')).image).toBe(`ghcr.io/bulkhead/cven:${appVersion}`);
  });

  it('Kubelink: one replica, never two at once, cluster-critical, non-root without capabilities', () => {
    const d = one(rendered.minimal!, 'Deployment');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    const spec = d.spec.template.spec;
    expect(spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec.serviceAccountName).toBe('bulkhead-kubelink');
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    const sc = containerOf(d).securityContext;
    expect(sc).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const sa = one(rendered.minimal!, 'ServiceAccount');
    const binding = one(rendered.minimal!, 'ClusterRoleBinding');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'bulkhead-system' },
    ]);
    expect(binding.roleRef.name).toBe(one(rendered.minimal!, 'ClusterRole').metadata.name);
    expect(one(rendered['existing-secrets']!, 'Deployment').spec.template.spec.serviceAccountName).toBe(
      'corp-kubelink',
    );
  });

  it("the ClusterRole grants list and watch only, on exactly the kinds Kubelink's informers watch", () => {
    // The informers' paths, read from kubelink/src/kubelink.ts: w('kind', '/api/v1/kind' | '/apis/GROUP/VERSION/kind', ...).
    const src = readFileSync(join(REPO, 'kubelink', 'src', 'kubelink.ts'), 'utf8');
    const watched = [...src.matchAll(/w\(\s*'(\w+)',\s*'([^']+)'/g)].map((m) => {
      const parts = m[2]!.split('/').filter(Boolean); // ['api','v1','pods'] or ['apis',group,version,kind]
      return `${parts[0] === 'api' ? '' : parts[1]}/${parts.at(-1)}`;
    });
    expect(watched.length).toBe(5);
    const role = one(rendered.minimal!, 'ClusterRole');
    const granted = (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap((r) => {
      expect(r.verbs).toEqual(['list', 'watch']);
      expect(r).not.toHaveProperty('resourceNames');
      expect(r).not.toHaveProperty('nonResourceURLs');
      return r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`));
    });
    expect(granted.sort()).toEqual(watched.sort());
  });

  it('credentials travel in Secrets and reach the agents only through secretKeyRef', () => {
    const r = rendered.minimal!;
    const token = one(r, 'Secret', '-cluster-token');
    const code = one(r, 'Secret', '-activation-code');
    const minimal = readFileSync(MINIMAL, 'utf8');
    expect(Buffer.from(token.data['cluster-token'], 'base64').toString()).toBe(
      /^clusterToken: (\S+)$/m.exec(minimal)![1],
    );
    expect(Buffer.from(code.data['activation-code'], 'base64').toString()).toBe(
      /^activationCode: (\S+)$/m.exec(minimal)![1],
    );
    const dsEnv = envOf(containerOf(one(r, 'DaemonSet')));
    const kEnv = envOf(containerOf(one(r, 'Deployment')));
    expect(dsEnv.get('BULKHEAD_ACTIVATION_CODE')).toEqual({
      name: 'BULKHEAD_ACTIVATION_CODE',
      valueFrom: { secretKeyRef: { name: code.metadata.name, key: 'activation-code' } },
    });
    expect(kEnv.get('BULKHEAD_CLUSTER_TOKEN')).toEqual({
      name: 'BULKHEAD_CLUSTER_TOKEN',
      valueFrom: { secretKeyRef: { name: token.metadata.name, key: 'cluster-token' } },
    });
    // No secret in any value, argument or annotation of the workloads.
    const text = JSON.stringify(r.objects.filter((o) => o.kind !== 'Secret'));
    expect(text).not.toContain(/^clusterToken: (\S+)$/m.exec(minimal)![1]);
    expect(text).not.toContain(/^activationCode: (\S+)$/m.exec(minimal)![1]);
    // The user's own objects, by the names given.
    const e = rendered['existing-secrets']!;
    expect(envOf(containerOf(one(e, 'DaemonSet'))).get('BULKHEAD_ACTIVATION_CODE')?.valueFrom).toEqual({
      secretKeyRef: { name: 'corp-bulkhead-activation', key: 'activation-code' },
    });
    expect(envOf(containerOf(one(e, 'Deployment'))).get('BULKHEAD_CLUSTER_TOKEN')?.valueFrom).toEqual({
      secretKeyRef: { name: 'corp-bulkhead-cluster-token', key: 'cluster-token' },
    });
    expect(envOf(containerOf(one(e, 'Deployment'))).get('BULKHEAD_SERVICE_CIDR')?.value).toBe(
      '10.96.0.0/12,fd00:10:96::/108',
    );
    for (const kind of ['DaemonSet', 'Deployment'])
      expect(one(e, kind).spec.template.spec.volumes[0].configMap.name).toBe('corp-pce-ca');
  });

  it("the PCE's CA is a ConfigMap both agents mount where BULKHEAD_CA points", () => {
    const r = rendered.minimal!;
    const cm = one(r, 'ConfigMap', '-pce-ca');
    expect(cm.data['ca.pem']).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    for (const kind of ['DaemonSet', 'Deployment']) {
      const w = one(r, kind);
      const c = containerOf(w);
      const vol = w.spec.template.spec.volumes.find((v: { configMap?: { name: string } }) => v.configMap);
      expect(vol.configMap.name).toBe(cm.metadata.name);
      const mount = c.volumeMounts.find((m: { name: string }) => m.name === vol.name);
      expect(envOf(c).get('BULKHEAD_CA')?.value).toBe(`${mount.mountPath}/ca.pem`);
      expect(mount.readOnly).toBe(true);
    }
  });

  it('NOTES say what was installed and how to check it', () => {
    const notes = rendered.minimal!.notes;
    expect(notes).toContain('https://pce.example.com:8443');
    expect(notes).toContain(CLUSTER_ID);
    expect(notes).toContain('kubectl -n bulkhead-system rollout status daemonset/bulkhead-cven');
    expect(notes).toContain('deployment/bulkhead-kubelink');
    expect(notes.split('\n').length).toBeLessThan(20);
    expect(rendered['cven-only']!.notes).not.toContain('Kubelink:');
  });

  it.each([
    [{ pceUrl: 'http://pce.example.com:8443' }, 'pceUrl "http://pce.example.com:8443" is not https://HOST[:PORT]'],
    [{ pceUrl: 'https://pce.example.com:8443/api/v2' }, 'is not https://HOST[:PORT]'],
    [{ pceUrl: 'https://user:pw@pce.example.com' }, 'is not https://HOST[:PORT]'],
    [{ pceCa: 'MIIBmTCCAT+gAwIBAgIU' }, 'pceCa is not a PEM certificate'],
    [{ pceCaExistingConfigMap: 'mine' }, 'pceCa and pceCaExistingConfigMap are both set'],
    [{ pceCa: null }, 'pceCa is required'],
    [
      { clusterId: `/orgs/1/container_clusters/${CLUSTER_ID}` },
      `is an href: give only its last segment, "${CLUSTER_ID}"`,
    ],
    [{ clusterId: 'prod-cluster' }, `clusterId "prod-cluster" is not a container cluster's id`],
    [{ clusterToken: '' }, 'clusterToken is required'],
    [{ clusterToken: 'abc def' }, 'clusterToken contains white space'],
    [{ clusterTokenExistingSecret: 'mine' }, 'clusterToken and clusterTokenExistingSecret are both set'],
    [{ activationCode: null }, 'activationCode is required'],
    [{ activationCodeExistingSecret: 'mine' }, 'activationCode and activationCodeExistingSecret are both set'],
    [
      { cven: { criSocket: 'unix:///run/containerd/containerd.sock' } },
      'cven.criSocket "unix:///run/containerd/containerd.sock" must be an absolute path on the node',
    ],
    [{ cven: { stateDir: 'var/lib/bulkhead' } }, 'cven.stateDir "var/lib/bulkhead" must be an absolute path'],
  ])('refuses %j: "%s"', async (over, message) => {
    const r = await renderOver(over);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain('execution error at (bulkhead/templates/validate.yaml');
    expect(r.error).toContain('1 value(s) need fixing');
    expect(r.error).toContain(message);
  });

  it.each([
    [{ logLevel: 'verbose' }, 'logLevel: logLevel must be one of the following: "error", "warn", "info", "debug"'],
    [{ pceURL: 'https://pce.example.com' }, '(root): Additional property pceURL is not allowed'],
    [{ cven: { healthport: 9102 } }, 'cven: Additional property healthport is not allowed'],
    [{ cven: { healthPort: 70000 } }, 'cven.healthPort: Must be less than or equal to 65535'],
    [{ cven: { healthPort: '9102' } }, 'cven.healthPort: Invalid type. Expected: integer, given: string'],
    [
      { kubelink: { image: { pullPolicy: 'Sometimes' } } },
      'kubelink.image.pullPolicy: kubelink.image.pullPolicy must be one of',
    ],
    [
      { cven: { tolerations: { operator: 'Exists' } } },
      'cven.tolerations: Invalid type. Expected: array, given: object',
    ],
  ])('values.schema.json refuses %j before rendering', async (over, message) => {
    const r = await renderOver(over);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain("values don't meet the specifications of the schema(s)");
    expect(r.error).toContain(message);
  });

  it('a values file that turns Kubelink off no longer needs the cluster token, and one without the C-VEN no activation code', async () => {
    expect((await renderOver({ clusterToken: null, kubelink: { enabled: false } })).ok).toBe(true);
    expect((await renderOver({ activationCode: null, cven: { enabled: false } })).ok).toBe(true);
    expect((await renderOver({ clusterToken: null })).ok).toBe(false);
  });
});
