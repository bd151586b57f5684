// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `bulkhead probe --interface IFNAME [--seconds N] [--json]`: attach the
 * flow probe to one interface and print its flows and drops as they drain.
 *
 * Owns: the command's lifecycle: check → open → attach → print
 * `attached IFNAME` on stderr → drain every DRAIN_INTERVAL_MS → on
 * --seconds, SIGINT, SIGTERM or SIGHUP: last drain, detach, close, exit 0.
 * The probe is also closed on any other exit of the process, so no TC
 * filter or qdisc of ours outlives it.
 * Output contract: format.ts (one line per drained flow, with its counts
 * since the probe attached; drops in this namespace and the veth peer's).
 */
import { Command, InvalidArgumentError } from 'commander';
import { FlowTable } from './flow-table.js';
import { dropJson, dropText, flowJson, flowText, wallClock } from './format.js';
import { interfaceNamespaces } from './peer.js';
import type { ProbeCounters } from './abi.js';

/** How often the command drains: often enough to read live, rarely enough to cost nothing. */
export const DRAIN_INTERVAL_MS = 1000;

interface ProbeCommandOptions {
  interface: string;
  seconds?: number;
  json?: boolean;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** A run-time failure the dispatcher reports as `bulkhead: MESSAGE` with exit code 1. */
function fatal(message: string): Error {
  return Object.assign(new Error(message), { exitCode: 1 });
}

function lossSummary(c: ProbeCounters): string {
  return (
    `flows ${c.flowsDrained} drained, lost: ${c.flowsEvicted} evicted (map full), ${c.flowsFull} packets unaccounted, ` +
    `${c.unparsed} packets unparsable, ${c.ringFull} drop records (ring full); drops recorded ${c.drops}`
  );
}

async function runProbe(opts: ProbeCommandOptions): Promise<void> {
  const ifname = opts.interface;
  if (process.getuid?.() !== 0) {
    throw fatal(
      `probe needs root to load BPF programs and add TC filters: run \`sudo bulkhead probe --interface ${ifname}\``,
    );
  }
  // Loaded here, not at import: every `bulkhead` command imports this module, few need koffi.
  const { Probe, interfaceIndex, monotonicNs } = await import('./ffi.js');
  const ifindex = interfaceIndex(ifname); // throws with "list interfaces with `ip -br link`"
  const ns = await interfaceNamespaces(ifname);
  const write = (line: string): void => void process.stdout.write(line + '\n');

  const probe = Probe.open();
  const closeOnExit = (): void => probe.close();
  process.on('exit', closeOnExit); // last resort (uncaught error): synchronous, like the C call
  try {
    probe.attach(ifindex);
  } catch (err) {
    probe.close();
    process.off('exit', closeOnExit);
    throw err;
  }
  process.stderr.write(`attached ${ifname}\n`);
  process.stderr.write(
    `  (ifindex ${ifindex}; drops from netns ${ns.own}` +
      (ns.peer !== undefined && ns.peer !== ns.own
        ? ` and peer netns ${ns.peer}${ns.peerName ? ` (${ns.peerName})` : ''}`
        : '') +
      (ns.peer === undefined ? '; peer namespace unknown (not a veth, or unnamed): its drops are not shown' : '') +
      `; ${opts.seconds ? `${opts.seconds} s` : 'Ctrl-C to stop'})\n`,
  );

  const toWall = wallClock(Date.now(), monotonicNs());
  const table = new FlowTable();
  const drain = (): void => {
    for (const t of table.add(probe.drainFlows())) {
      write(opts.json ? JSON.stringify(flowJson(t, ifname, toWall)) : flowText(t, ifname));
    }
    for (const d of probe.drainDrops()) {
      const side = d.netnsIno === ns.own ? 'host' : d.netnsIno === ns.peer ? 'peer' : undefined;
      if (!side) continue; // another namespace's drop (one kernel serves them all)
      write(opts.json ? JSON.stringify(dropJson(d, side, toWall)) : dropText(d, side));
    }
  };

  await new Promise<void>((resolve, reject) => {
    let done = false;
    const stop = (): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      if (deadline) clearTimeout(deadline);
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, stop);
      process.stdout.off('error', onStdoutError);
      try {
        drain();
        resolve();
      } catch (err) {
        reject(err);
      }
    };
    const onStdoutError = (): void => stop(); // reader went away (EPIPE): stop cleanly
    const timer = setInterval(() => {
      try {
        drain();
      } catch (err) {
        done = true;
        clearInterval(timer);
        reject(err);
      }
    }, DRAIN_INTERVAL_MS);
    const deadline = opts.seconds ? setTimeout(stop, opts.seconds * 1000) : undefined;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, stop);
    process.stdout.on('error', onStdoutError);
  }).finally(() => {
    try {
      const counters = probe.readCounters();
      if (opts.json) write(JSON.stringify({ kind: 'loss', ...lossJson(counters) }));
      process.stderr.write(`detached ${ifname}: ${lossSummary(counters)}\n`);
    } finally {
      probe.close(); // detaches: removes our filters, and the qdisc if we created it
      process.off('exit', closeOnExit);
    }
  });
}

function lossJson(c: ProbeCounters): Record<string, number> {
  return {
    flows_drained: c.flowsDrained,
    flows_evicted: c.flowsEvicted,
    flows_full_packets: c.flowsFull,
    unparsed_packets: c.unparsed,
    ring_full_drops: c.ringFull,
    drops_recorded: c.drops,
  };
}

/** The `probe` subcommand. */
export function probeCommand(): Command {
  return new Command('probe')
    .description(
      "Watch one interface's flows (and netfilter drops in its and its peer's namespace) with the eBPF probe; root",
    )
    .requiredOption('--interface <ifname>', "the interface to attach to (a pod's host-side veth)")
    .option('--seconds <n>', 'stop after n seconds (default: until Ctrl-C)', positiveSeconds)
    .option('--json', 'one JSON object per line (counts since attach; ports and counts as numbers)')
    .action(async (opts: ProbeCommandOptions) => {
      await runProbe(opts);
    });
}
