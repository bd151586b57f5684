// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `bulkhead cven run` (the node agent) and `bulkhead cven unpair`. Flags
 * and `BULKHEAD_*` variables come from settings.ts, the one list.
 * Exit codes: 0 stopped cleanly, 1 failed (the message says what to do), 2 bad usage.
 */
import { Command } from 'commander';
import type { BulkheadError } from '@bulkhead/pce/api';
import { Agent } from './agent.js';
import { CriReader } from './cri/client.js';
import { startHealthServer } from './health.js';
import { createLogger, type LogLevel } from './log.js';
import { renderDelete } from './nft/render.js';
import { SystemNftRunner } from './nft/runner.js';
import { StateDir } from './pairing/state.js';
import { PceClient } from './pce/client.js';
import { CVEN_SETTINGS, parseHostPort, resolveSettings, type CvenSettings } from './settings.js';

/** A failure for the dispatcher: exit 2 for bad settings (BH_ERR_CONFIG), 1 otherwise. */
function fatal(err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(msg), { exitCode: (err as BulkheadError)?.code === 'BH_ERR_CONFIG' ? 2 : 1 });
}

function withSettings(cmd: Command, only?: string[]): Command {
  for (const s of CVEN_SETTINGS) {
    if (only && !only.includes(s.flag)) continue;
    const dflt = 'default' in s && s.default !== undefined ? `; default ${s.default}` : '';
    cmd.option(`--${s.flag} <value>`, `${s.description} [env ${s.env}${dflt}]`);
  }
  return cmd;
}

function settingsOf(opts: Record<string, unknown>): CvenSettings {
  try {
    return resolveSettings(opts);
  } catch (err) {
    throw Object.assign(new Error((err as Error).message), { exitCode: 2 });
  }
}

function needRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw fatal(`${what} needs root (nftables in every pod's network namespace, the runtime socket): run it with sudo`);
}

async function run(opts: Record<string, unknown>): Promise<void> {
  const settings = settingsOf(opts);
  const health = (() => {
    try {
      return parseHostPort(settings['health-listen'], '--health-listen');
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { exitCode: 2 });
    }
  })();
  needRoot('cven run');
  const log = createLogger(settings['log-level'] as LogLevel, { node: settings['node-name'] });
  let agent: Agent;
  try {
    agent = new Agent({ settings, log, nft: new SystemNftRunner() });
  } catch (err) {
    throw fatal(err);
  }
  const server = await startHealthServer(agent, health.host, health.port);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping; the applied policy stays in the kernel', { signal });
    void agent.stop().finally(() => server.close(() => process.exit(0)));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  try {
    await agent.start();
  } catch (err) {
    server.close();
    const e = err as BulkheadError;
    log.error('agent could not start', { code: e.code, error: e.message });
    throw fatal(err);
  }
  log.info('agent running', { workload: agent.workloadHref, health: settings['health-listen'] });
}

async function unpair(opts: Record<string, unknown>): Promise<void> {
  // Unpairing needs neither an activation code nor the cluster's id: the saved credentials say who we are.
  const settings = settingsOf({ pce: '-', activationCode: '-', clusterId: '-', nodeName: '-', ...opts });
  needRoot('cven unpair');
  const state = new StateDir(settings['state-dir']);
  const creds = state.loadCredentials();
  if (!creds) throw fatal(`no credentials in ${settings['state-dir']}: this node is not paired`);
  const nft = new SystemNftRunner();
  const cri = new CriReader(settings['cri-socket']);
  let removed = 0;
  try {
    const pods = await cri.listPods().catch((err: Error) => {
      process.stderr.write(`warning: runtime not answering (${err.message}); removing the node's table only\n`);
      return [];
    });
    for (const p of pods) {
      if (p.hostNetwork || !p.netnsPath) continue;
      if ((await nft.list(p.netnsPath).catch(() => null)) !== null) {
        await nft.apply(p.netnsPath, renderDelete(), `${p.namespace}/${p.name}`);
        removed++;
      }
    }
    if ((await nft.list(null)) !== null) {
      await nft.apply(null, renderDelete(), 'node');
      removed++;
    }
  } finally {
    cri.close();
  }
  const pce = new PceClient(creds.pce, settings.ca);
  pce.credentials = creds;
  try {
    await pce.request('POST', pce.agentPath('/unpair'));
  } catch (err) {
    throw fatal(
      `removed ${removed} table(s), but the PCE was not told: ${(err as Error).message}; run unpair again when it is reachable`,
    );
  } finally {
    pce.close();
  }
  state.forgetCredentials();
  state.forgetPolicy();
  process.stdout.write(`unpaired ${creds.workload_href}: removed ${removed} table(s)\n`);
}

export function cvenCommand(): Command {
  const runCmd = withSettings(
    new Command('run').description('Run the node agent: pair, discover pods through CRI, enforce policy with nftables'),
  ).action(run);
  const unpairCmd = withSettings(
    new Command('unpair').description("Remove this node's Bulkhead tables and tell the PCE (stop the agent first)"),
    ['pce', 'ca', 'state-dir', 'cri-socket', 'log-level'],
  ).action(unpair);
  return new Command('cven').description('The node agent (C-VEN)').addCommand(runCmd).addCommand(unpairCmd);
}
