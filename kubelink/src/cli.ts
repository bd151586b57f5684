// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `bulkhead kubelink run`: the cluster's inventory from the Kubernetes API
 * to the PCE. Every flag is also `BULKHEAD_` + its name in upper snake case
 * (the one list: SETTINGS below). Exit codes: 0 stopped, 1 failed, 2 bad usage.
 */
import { Command } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { Kubelink } from './kubelink.js';
import { PceReporter } from './report/pce.js';

interface Setting {
  flag: string;
  description: string;
  required: boolean;
  default?: string;
}

/** Kubelink's settings: flag, environment variable and meaning, documented once. */
export const SETTINGS: Setting[] = [
  { flag: 'pce', description: "the PCE's URL, https://HOST:PORT", required: true },
  { flag: 'ca', description: "the PCE's CA certificate (PEM file)", required: true },
  { flag: 'cluster-id', description: "the container cluster's id (last segment of its href)", required: true },
  {
    flag: 'cluster-token',
    description: "the container cluster's token (shown once when the cluster was created)",
    required: true,
  },
  {
    flag: 'kubeconfig',
    description: 'kubeconfig file; in-cluster service account config when absent',
    required: false,
  },
  {
    flag: 'service-cidr',
    description: "the cluster's service network(s), comma-separated (Kubernetes does not list them)",
    required: false,
  },
  { flag: 'log-level', description: 'error, warn, info or debug', required: false, default: 'info' },
];

export const envName = (flag: string): string => `BULKHEAD_${flag.replace(/-/g, '_').toUpperCase()}`;
const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const RANK = { error: 0, warn: 1, info: 2, debug: 3 } as const;

function usage(message: string): Error {
  return Object.assign(new Error(message), { exitCode: 2 });
}

async function run(opts: Record<string, string | undefined>): Promise<void> {
  const v: Record<string, string | undefined> = {};
  const missing: string[] = [];
  for (const s of SETTINGS) {
    v[s.flag] = opts[camel(s.flag)] ?? process.env[envName(s.flag)] ?? s.default;
    if (s.required && !v[s.flag]) missing.push(`--${s.flag} (or ${envName(s.flag)})`);
  }
  if (missing.length) throw usage(`missing settings: ${missing.join(', ')}`);
  const level = v['log-level'] as keyof typeof RANK;
  if (!(level in RANK)) throw usage(`--log-level: "${level}" is not one of error, warn, info, debug`);
  const log = (l: keyof typeof RANK, msg: string, fields: Record<string, unknown> = {}): void => {
    if (RANK[l] <= RANK[level])
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields }) + '\n');
  };
  const kc = new k8s.KubeConfig();
  try {
    if (v.kubeconfig) kc.loadFromFile(v.kubeconfig);
    else kc.loadFromCluster();
  } catch (err) {
    throw usage(`--kubeconfig: cannot load ${v.kubeconfig ?? 'the in-cluster config'}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster())
    throw usage('no Kubernetes API server: give --kubeconfig, or run Kubelink in the cluster');
  let pce: PceReporter;
  try {
    pce = new PceReporter(v.pce!, v.ca!, v['cluster-id']!, v['cluster-token']!);
  } catch (err) {
    throw usage((err as Error).message);
  }
  const kl = new Kubelink({
    kubeconfig: kc,
    pce,
    log,
    ...(v['service-cidr']
      ? {
          serviceNetworks: v['service-cidr']
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        }
      : {}),
  });
  const stop = (signal: string): void => {
    log('info', 'stopping', { signal });
    void kl.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  log('info', 'kubelink starting', {
    api_server: kc.getCurrentCluster()?.server,
    pce: v.pce,
    cluster: v['cluster-id'],
  });
  await kl.start();
  log('info', 'kubelink running', {});
}

function kubelinkCommand(): Command {
  const runCmd = new Command('run').description("Report the cluster's nodes, namespaces, pods and services to the PCE");
  for (const s of SETTINGS)
    runCmd.option(
      `--${s.flag} <value>`,
      `${s.description} [env ${envName(s.flag)}${s.default ? `; default ${s.default}` : ''}]`,
    );
  runCmd.action(run);
  return new Command('kubelink')
    .description("The cluster's inventory for the PCE (one per cluster)")
    .addCommand(runCmd);
}

/** Subcommands this part adds to `bulkhead`. */
export const commands: Command[] = [kubelinkCommand()];
