// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The `bulkhead lab ...` subcommands: `up`, `down`, `status`, `apply`,
 * `delete`, `exec`. Every one takes `--name` (default `lab`), so several
 * labs can exist side by side. Exit codes: 0 done, 1 failed at run time,
 * 2 bad usage (see bin/bulkhead.js).
 */
import { spawn } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import { labApi } from './client.js';
import { labDown, labUp } from './lab.js';
import { applyFile, deleteFile } from './manifests.js';
import { checkLabName, DEFAULT_LAB, MAX_NODES } from './plan.js';
import { listLabs } from './state.js';
import { findPod, labStatus } from './status.js';

const nameOption = (): Option =>
  new Option('--name <name>', 'lab name (1-20 of a-z, 0-9, -)').default(DEFAULT_LAB).argParser((v) => {
    try {
      return checkLabName(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  });

function nodeCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) throw new InvalidArgumentError(`expected 1 to ${MAX_NODES}`);
  return n;
}

const out = (line: string): void => void process.stdout.write(line + '\n');
const err = (line: string): void => void process.stderr.write(line + '\n');

function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw Object.assign(new Error('the lab creates network namespaces and runs containerd: run it as root'), {
      exitCode: 1,
    });
}

function upCommand(): Command {
  return new Command('up')
    .description('Create a lab (or recover one whose processes died) and return once it is up')
    .addOption(nameOption())
    .option('--nodes <n>', `number of nodes (1-${MAX_NODES})`, nodeCount, 3)
    .option('-q, --quiet', 'print only the summary')
    .action(async (opts: { name: string; nodes: number; quiet?: boolean }) => {
      requireRoot();
      const r = await labUp({ name: opts.name, nodes: opts.nodes, log: opts.quiet ? undefined : err });
      const p = r.record.plan;
      out(
        `lab ${p.name} up in ${(r.ms / 1000).toFixed(1)} s${r.recovered ? ' (recovered)' : ''}: ${p.nodes.length} nodes, API server ${p.apiServer.url}`,
      );
      out(`kubeconfig: ${(await labStatus(p.name))?.apiServer.kubeconfig}`);
    });
}

function downCommand(): Command {
  return new Command('down')
    .description('Remove everything the lab made (also after a crash)')
    .addOption(nameOption())
    .action(async (opts: { name: string }) => {
      requireRoot();
      const r = await labDown(opts.name);
      if (r.leftovers.length) {
        err(`lab ${opts.name}: could not remove: ${r.leftovers.join(', ')}`);
        process.exitCode = 1;
        return;
      }
      out(`lab ${opts.name} down in ${(r.ms / 1000).toFixed(1)} s`);
    });
}

function statusCommand(): Command {
  return new Command('status')
    .description("Show the lab: nodes, pods (from each node's CRI), API server")
    .addOption(nameOption())
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; json?: boolean }) => {
      const s = await labStatus(opts.name);
      if (!s) {
        const others = listLabs();
        throw new Error(`no lab named "${opts.name}"${others.length ? ` (labs: ${others.join(', ')})` : ''}`);
      }
      if (opts.json) return out(JSON.stringify(s, null, 2));
      out(
        `lab ${s.name}: ${s.running ? 'running' : 'NOT RUNNING (run `lab up` to recover or `lab down`)'}; API ${s.apiServer.url}; kubeconfig ${s.apiServer.kubeconfig}`,
      );
      for (const n of s.nodes) out(`node ${n.name}  ip ${n.ip}  pods ${n.podCIDR}  machine-id ${n.machineId}`);
      for (const p of s.pods) out(`pod  ${p.namespace}/${p.name}  ${p.node}  ${p.ip}`);
      out(`outside world ${s.outside.netns} ${s.outside.ip} (DNS)`);
    });
}

function fileCommand(verb: 'apply' | 'delete'): Command {
  return new Command(verb)
    .description(verb === 'apply' ? 'Create or update the objects in a YAML file' : 'Delete the objects in a YAML file')
    .addOption(nameOption())
    .requiredOption('-f, --filename <file>', 'YAML (multi-document) or JSON manifest')
    .action(async (opts: { name: string; filename: string }) => {
      const api = labApi(opts.name);
      await (verb === 'apply' ? applyFile : deleteFile)(api, opts.filename, out);
    });
}

function execCommand(): Command {
  return new Command('exec')
    .description("Run a host command inside a pod's network namespace: lab exec NAMESPACE/POD -- CMD...")
    .addOption(nameOption())
    .argument('<pod>', 'NAMESPACE/POD')
    .argument('<command...>', 'command and arguments (after --)')
    .action(async (target: string, command: string[], opts: { name: string }) => {
      requireRoot();
      const [ns, pod] = target.includes('/') ? target.split('/', 2) : ['default', target];
      const p = await findPod(opts.name, ns!, pod!);
      if (!p?.netnsPath) throw new Error(`pod ${ns}/${pod} is not running in lab ${opts.name}`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn('nsenter', [`--net=${p.netnsPath}`, ...command], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      process.exitCode = code;
    });
}

/** Subcommands this package adds to `bulkhead`. */
export const commands: Command[] = [
  new Command('lab')
    .description('The lab cluster: nodes as network namespaces with containerd, a Kubernetes API server, kubelets')
    .addCommand(upCommand())
    .addCommand(downCommand())
    .addCommand(statusCommand())
    .addCommand(fileCommand('apply'))
    .addCommand(fileCommand('delete'))
    .addCommand(execCommand()),
];
