// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab daemon (`node dist/labd.js --name NAME --dir LABDIR`; the
 * directory on the command line marks the process as the lab's), started by `lab up` in
 * its own session: the API server (HTTPS on the host's underlay address,
 * port 6443), the controllers and one kubelet per node. Writes
 * `api/token`, TLS material, `LAB/kubeconfig`, and `api/ready` (its pid)
 * once it serves and every node is registered. It starts (and so reaps)
 * the lab's long-running processes: containerd per node (importing the lab
 * image) and the outside world's servers. SIGTERM/SIGINT: stop the
 * kubelets, close the server, write the state file, remove every sandbox
 * through CRI, stop containerd and the servers, exit. `lab down` uses that
 * and then sweeps whatever a crash left.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApiServer } from './api/server.js';
import { Store } from './api/store.js';
import { res } from './api/resources.js';
import { ensureTls } from './api/tls.js';
import { Controllers, makeDefaulter } from './controllers/controllers.js';
import { Kubelet } from './kubelet/kubelet.js';
import { nodeDirs, prepareNode, removeAllSandboxes, startContainerd } from './node/containerd.js';
import { outsideFiles, startOutsideServers } from './node/outside.js';
import { stopProcess } from './proc.js';
import { renderKubeconfig } from './kubeconfig.js';
import { apiDir, kubeconfigPath, labDir, nodeDir, readRecord, writeProcesses, type LabProcesses } from './state.js';

const log = (msg: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }) + '\n');
};

async function main(): Promise<void> {
  const i = process.argv.indexOf('--name');
  const name = i > 0 ? process.argv[i + 1] : undefined;
  if (!name) throw new Error('usage: labd --name NAME');
  const rec = readRecord(name);
  if (!rec) throw new Error(`lab ${name} has no lab.json`);
  const { plan } = rec;
  const dir = apiDir(name);

  // Children: containerd per node and the outside world's servers. They run
  // in their own sessions but stay this process's children, so it reaps them.
  const procs: LabProcesses = { containerd: {} };
  const tarball = join(labDir(name), 'image', 'busybox-oci.tar');
  await Promise.all(
    plan.nodes.map(async (n) => {
      const nd = nodeDir(name, n.index);
      procs.containerd[String(n.index)] = await startContainerd(n, nd);
      writeProcesses(name, procs);
      await prepareNode(nd, tarball);
    }),
  );
  const outside = await startOutsideServers(plan, join(labDir(name), 'outside'));
  procs.dnsmasq = outside.dnsmasqPid;
  procs.httpd = outside.httpdPid;
  writeProcesses(name, procs);
  log('nodes up', { containerd: procs.containerd });

  const tokenFile = join(dir, 'token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const token = readFileSync(tokenFile, 'utf8').trim();
  const tls = await ensureTls(dir, [plan.apiServer.ip]);
  writeFileSync(kubeconfigPath(name), renderKubeconfig(name, plan.apiServer.url, tls.ca, token), { mode: 0o600 });

  const store: Store = new Store({
    file: join(dir, 'state.json'),
    defaulter: makeDefaulter(plan.serviceCIDR, () => store),
  });
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
    if (!store.tryGet(res('namespaces'), undefined, ns))
      store.create(res('namespaces'), undefined, { metadata: { name: ns } });

  const { app } = buildApiServer({
    store,
    token,
    tls,
    bookmarkMs: 5000,
    advertise: `${plan.apiServer.ip}:${plan.apiServer.port}`,
  });
  await app.listen({ host: plan.apiServer.ip, port: plan.apiServer.port });
  log('API server listening', { url: plan.apiServer.url });

  const controllers = new Controllers(store);
  const svcHosts = outsideFiles(join(labDir(name), 'outside')).services;
  let lastHosts = '';
  controllers.onServicesChanged = (hosts) => {
    const text =
      [...hosts.entries()]
        .flatMap(([n, ips]) => ips.map((ip) => `${ip} ${n}`))
        .sort()
        .join('\n') + '\n';
    if (text === lastHosts) return;
    lastHosts = text;
    writeFileSync(svcHosts, text);
    if (procs.dnsmasq) {
      try {
        process.kill(procs.dnsmasq, 'SIGHUP'); // dnsmasq re-reads its hosts files
      } catch {
        // dnsmasq gone: names just stop resolving
      }
    }
  };
  controllers.start();

  const kubelets = plan.nodes.map((node) => {
    const nd = nodeDir(name, node.index);
    return new Kubelet({
      store,
      node,
      socket: nodeDirs(nd).socket,
      dir: nd,
      machineId: readFileSync(nodeDirs(nd).machineId, 'utf8').trim(),
      cgroupParent: `/bh-lab-${name}/n${node.index}`,
      dnsServer: plan.outside.ip,
      log,
    });
  });
  await Promise.all(kubelets.map((k) => k.start()));
  writeFileSync(join(dir, 'ready'), String(process.pid));
  log('lab ready', { nodes: plan.nodes.length });

  let stopping = false;
  const shutdown = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal: sig });
    controllers.stop();
    await Promise.all(kubelets.map((k) => k.stop()));
    await app.close();
    store.flush();
    // Pods outlive containerd: remove them through CRI first, then stop it.
    await Promise.all(
      plan.nodes.map(async (n) => {
        const nd = nodeDir(name, n.index);
        await removeAllSandboxes(nodeDirs(nd).socket).catch((err: Error) =>
          log('sandbox removal failed', { node: n.name, error: err.message }),
        );
        const pid = procs.containerd[String(n.index)];
        if (pid) await stopProcess(pid, nd, 10_000);
      }),
    );
    for (const pid of [procs.dnsmasq, procs.httpd]) if (pid) await stopProcess(pid, labDir(name), 2000);
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => undefined);
}

main().catch((err: Error) => {
  log('lab daemon failed', { error: err.stack ?? err.message });
  process.exit(1);
});
