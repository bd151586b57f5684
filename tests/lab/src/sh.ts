// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Running host programs (ip, nft, ctr, nsenter, tar) for the lab: argument
 * arrays only (never a shell), captured output, and errors that name the
 * command and what it printed.
 */
import { execFile, spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(
      `\`${argv.join(' ')}\` failed (exit ${code ?? 'signal'}): ${stderr.trim().split('\n').slice(-2).join(' | ')}`,
    );
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** Feed this to the program's stdin. */
  input?: string;
  /** Resolve instead of throwing when the program fails. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `argv` to completion. Throws CommandError when it fails (unless `allowFail`). */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (err && !opts.allowFail) {
          reject(new CommandError(argv, typeof err.code === 'number' ? err.code : null, stderr || err.message));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `ip` with JSON output, parsed. */
export async function ipJson<T>(args: string[], netnsPath?: string): Promise<T[]> {
  const argv = ['ip', '-j', ...args];
  const r = await run(netnsPath ? ['nsenter', `--net=${netnsPath}`, ...argv] : argv);
  const text = r.stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** Run in a network namespace without remounting /sys (MACHINE-NOTES: `nsenter`, not `ip netns exec`). */
export function inNetns(netnsPath: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(['nsenter', `--net=${netnsPath}`, ...argv], opts);
}

/**
 * Start a long-running program in its own session (setsid), detached from
 * this process, stdout and stderr appended to `logFile`. A Ctrl-C to the
 * terminal that ran `lab up` does not reach it. Returns its pid.
 */
export async function spawnDetached(argv: string[], logFile: string, env?: NodeJS.ProcessEnv): Promise<number> {
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  try {
    const [file, ...args] = argv;
    if (!file) throw new Error('spawnDetached: empty argv');
    const child = spawn(file, args, {
      detached: true, // setsid(): a new session and process group
      stdio: ['ignore', fd, fd],
      env: env ?? process.env,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid ?? -1));
    });
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
