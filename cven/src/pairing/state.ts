// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The agent's state directory: its credentials (`agent.json`, 0600) and the
 * last policy it applied (`policy.json`), written atomically (temp file,
 * fsync, rename) so a crash leaves the old or the new file, never half.
 *
 * Owns: file names and modes under `--state-dir`. Secrets are never logged.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentPolicy } from '@bulkhead/pce/api';
import type { Credentials } from '../pce/client.js';

export interface SavedCredentials extends Credentials {
  agent_href: string;
  workload_href: string;
  /** The PCE they belong to: pairing with another PCE starts over. */
  pce: string;
  cluster_id: string;
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function readJson<T>(path: string): T | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return null; // a damaged file is as good as none: pair again / wait for the PCE
  }
}

export class StateDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  get credentialsFile(): string {
    return join(this.dir, 'agent.json');
  }

  loadCredentials(): SavedCredentials | null {
    return readJson<SavedCredentials>(this.credentialsFile);
  }

  saveCredentials(c: SavedCredentials): void {
    writeAtomic(this.credentialsFile, JSON.stringify(c, null, 2) + '\n', 0o600);
  }

  forgetCredentials(): void {
    rmSync(this.credentialsFile, { force: true });
  }

  loadPolicy(): AgentPolicy | null {
    return readJson<AgentPolicy>(join(this.dir, 'policy.json'));
  }

  savePolicy(p: AgentPolicy): void {
    writeAtomic(join(this.dir, 'policy.json'), JSON.stringify(p), 0o600);
  }

  forgetPolicy(): void {
    rmSync(join(this.dir, 'policy.json'), { force: true });
  }
}
