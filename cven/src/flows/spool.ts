// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The flow spool: batches wait on disk (`STATE/spool/<batch id>.json`,
 * written atomically) until the PCE acknowledges them, so neither a PCE
 * outage nor an agent restart loses flows. Bounded: past `maxBatches` the
 * oldest are dropped and their flows counted as lost (reported in the next
 * batch), never silently.
 * Lifecycle: `add` writes, `ack` deletes, `pending` lists oldest first.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { FlowBatch } from '@bulkhead/pce/api';

export class FlowSpool {
  readonly dir: string;
  #seq = 0;
  /** Flows dropped because the spool was full, not yet reported. */
  lost = 0;

  constructor(
    stateDir: string,
    readonly maxBatches = 2000,
  ) {
    this.dir = join(stateDir, 'spool');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Names sort by time: `<ms, 13 digits>-<seq>-<pid>`. */
  add(agentId: string, flows: FlowBatch['flows']): string {
    const id = `${String(Date.now()).padStart(13, '0')}-${String(this.#seq++).padStart(6, '0')}-${process.pid}-${agentId}`;
    const batch: FlowBatch = { batch_id: id, flows };
    const file = join(this.dir, `${id}.json`);
    const fd = openSync(`${file}.tmp`, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(batch));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${file}.tmp`, file);
    const all = this.pending();
    for (const old of all.slice(0, Math.max(0, all.length - this.maxBatches))) {
      this.lost += this.read(old)?.flows.length ?? 0;
      this.ack(old);
    }
    return id;
  }

  pending(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
  }

  read(id: string): FlowBatch | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${id}.json`), 'utf8')) as FlowBatch;
    } catch {
      this.ack(id); // damaged: it cannot be sent
      return null;
    }
  }

  ack(id: string): void {
    rmSync(join(this.dir, `${id}.json`), { force: true });
  }
}
