// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Runs nft in a network namespace: the node's (the agent's own) directly,
 * a pod's through `nsenter --net=PATH` (which, unlike `ip netns exec`,
 * does not remount /sys). Scripts go on stdin, so one call is one atomic
 * transaction.
 *
 * Owns: process spawning for nft. Must not: decide what to write (render.ts).
 */
import { spawn } from 'node:child_process';
import { BulkheadError } from '@bulkhead/pce/api';
import { TABLE } from './render.js';

export interface NftResult {
  code: number;
  stdout: string;
  stderr: string;
}

function nftArgv(netnsPath: string | null, args: string[]): [string, string[]] {
  return netnsPath ? ['nsenter', [`--net=${netnsPath}`, 'nft', ...args]] : ['nft', args];
}

function exec(netnsPath: string | null, args: string[], input?: string, timeoutMs = 10_000): Promise<NftResult> {
  const [cmd, argv] = nftArgv(netnsPath, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new BulkheadError(
          'BH_ERR_NFT_APPLY',
          `could not run ${cmd}: ${err.message}; install nftables (apt-get install nftables)`,
          {
            retry: 'terminal',
            cause: err,
          },
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    if (child.stdin) {
      // nft may exit before reading all of it (a syntax error): its exit code tells, not EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/** How the agent talks to nft; the real one spawns it, tests may wrap it. */
export interface NftRunner {
  /** Apply a script atomically. @throws BulkheadError BH_ERR_NFT_APPLY (transient) when nft refuses it. */
  apply(netnsPath: string | null, script: string, what: string): Promise<void>;
  /** The table as nft lists it, or null when it does not exist. */
  list(netnsPath: string | null): Promise<string | null>;
}

export class SystemNftRunner implements NftRunner {
  async apply(netnsPath: string | null, script: string, what: string): Promise<void> {
    const r = await exec(netnsPath, ['-f', '-'], script);
    if (r.code !== 0)
      throw new BulkheadError(
        'BH_ERR_NFT_APPLY',
        `nft refused the table for ${what}${netnsPath ? ` (netns ${netnsPath})` : ''}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
      );
  }

  async list(netnsPath: string | null): Promise<string | null> {
    const r = await exec(netnsPath, ['list', 'table', ...TABLE.split(' ')]);
    if (r.code !== 0) {
      if (/No such file or directory|does not exist/i.test(r.stderr)) return null;
      throw new BulkheadError(
        'BH_ERR_NFT_READBACK',
        `nft could not list ${TABLE}${netnsPath ? ` in ${netnsPath}` : ''}: ${r.stderr.trim()}`,
      );
    }
    return r.stdout;
  }
}
