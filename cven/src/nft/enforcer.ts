// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Makes the kernel hold the desired tables: one atomic nft transaction per
 * namespace, only what changed, then a read-back kept as the table's
 * fingerprint; the tamper check compares the kernel with it and restores
 * what someone changed.
 *
 * Owns: what is applied where (`#applied`, keyed by pod uid or `node`).
 * Lifecycle: an entry is added when its table is applied, replaced on each
 * apply, removed when its workload stops enforcing (table deleted) or its
 * pod is gone (the namespace went with it). Bounded by the node's pods.
 * Consumes `TableTarget` only (policy/desired.ts).
 */
import { existsSync } from 'node:fs';
import type { TableTarget } from '../policy/desired.js';
import { renderDelete, renderFullReplace, renderUpdate, ruleCount } from './render.js';
import type { NftRunner } from './runner.js';

interface Applied {
  target: TableTarget;
  /** `nft list table` right after our apply: what the kernel must keep showing. */
  listing: string;
}

export interface ConvergeResult {
  /** Tables written (created or changed). */
  written: TableTarget[];
  removed: string[];
  errors: { key: string; label: string; message: string }[];
}

export interface TamperFinding {
  key: string;
  label: string;
  netnsPath: string | null;
  what: 'deleted' | 'changed';
  restored: boolean;
  error?: string;
}

/** Run `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

const CONCURRENCY = 8;

export class Enforcer {
  readonly #applied = new Map<string, Applied>();
  /** Namespaces checked once for a table this process did not write (left by an earlier run). */
  readonly #swept = new Set<string>();

  constructor(private readonly nft: NftRunner) {}

  /** Rules across every table applied now. */
  get ruleCount(): number {
    let n = 0;
    for (const a of this.#applied.values()) n += ruleCount(a.target.table);
    return n;
  }

  get tables(): TableTarget[] {
    return [...this.#applied.values()].map((a) => a.target);
  }

  async #write(t: TableTarget, script: string): Promise<void> {
    await this.nft.apply(t.netnsPath, script, t.label);
    // A separate call on purpose: nft 1.0.6 lists stale state (raw interval elements, missing rules)
    // when `list` shares the script of the transaction that changed the table.
    const listing = (await this.nft.list(t.netnsPath)) ?? '';
    this.#applied.set(t.key, { target: t, listing });
  }

  /**
   * Make the kernel hold exactly `targets`. Level-based: a table that
   * failed is retried by the next call. `otherNetns` are the namespaces of
   * this node's pods that must hold no table (checked once each).
   */
  async converge(
    targets: TableTarget[],
    otherNetns: { key: string; netnsPath: string | null; label: string }[],
  ): Promise<ConvergeResult> {
    const result: ConvergeResult = { written: [], removed: [], errors: [] };
    const wanted = new Set(targets.map((t) => t.key));
    await eachLimited(targets, CONCURRENCY, async (t) => {
      const prev = this.#applied.get(t.key);
      const script =
        prev && prev.target.netnsPath === t.netnsPath
          ? renderUpdate(prev.target.table, t.table)
          : renderFullReplace(t.table);
      if (script === null) {
        prev!.target = t;
        return;
      }
      try {
        await this.#write(t, script);
        result.written.push(t);
      } catch (err) {
        // A failed update may mean the kernel is not what we think: replace whole next time.
        this.#applied.delete(t.key);
        result.errors.push({ key: t.key, label: t.label, message: (err as Error).message });
      }
    });
    const gone = [...this.#applied.values()].filter((a) => !wanted.has(a.target.key));
    await eachLimited(gone, CONCURRENCY, async (a) => {
      this.#applied.delete(a.target.key);
      const ns = a.target.netnsPath;
      if (ns !== null && !existsSync(ns)) return; // the pod and its namespace are gone
      try {
        await this.nft.apply(ns, renderDelete(), a.target.label);
        result.removed.push(a.target.key);
      } catch (err) {
        if (ns === null || existsSync(ns))
          result.errors.push({ key: a.target.key, label: a.target.label, message: (err as Error).message });
      }
    });
    const unchecked = otherNetns.filter((o) => !wanted.has(o.key) && !this.#swept.has(o.key));
    await eachLimited(unchecked, CONCURRENCY, async (o) => {
      try {
        if ((await this.nft.list(o.netnsPath)) !== null) {
          await this.nft.apply(o.netnsPath, renderDelete(), o.label);
          result.removed.push(o.key);
        }
        this.#swept.add(o.key);
      } catch {
        // The namespace went away meanwhile, or nft failed: try again next time.
      }
    });
    for (const key of this.#swept) if (!otherNetns.some((o) => o.key === key)) this.#swept.delete(key);
    return result;
  }

  /** Compare every applied table with the kernel; restore what differs. */
  async checkTamper(): Promise<TamperFinding[]> {
    const findings: TamperFinding[] = [];
    await eachLimited([...this.#applied.values()], CONCURRENCY, async (a) => {
      const t = a.target;
      if (t.netnsPath !== null && !existsSync(t.netnsPath)) return; // pod gone: the next converge drops it
      let now: string | null;
      try {
        now = await this.nft.list(t.netnsPath);
      } catch {
        return;
      }
      if (now === a.listing) return;
      if (this.#applied.get(t.key) !== a) return; // re-applied while we looked
      const finding: TamperFinding = {
        key: t.key,
        label: t.label,
        netnsPath: t.netnsPath,
        what: now === null ? 'deleted' : 'changed',
        restored: false,
      };
      try {
        await this.#write(t, renderFullReplace(t.table));
        finding.restored = true;
      } catch (err) {
        this.#applied.delete(t.key);
        finding.error = (err as Error).message;
      }
      findings.push(finding);
    });
    return findings;
  }

  /** Delete every table this agent wrote (unpair). */
  async removeAll(): Promise<void> {
    await eachLimited([...this.#applied.values()], CONCURRENCY, async (a) => {
      if (a.target.netnsPath !== null && !existsSync(a.target.netnsPath)) return;
      await this.nft.apply(a.target.netnsPath, renderDelete(), a.target.label).catch(() => undefined);
    });
    this.#applied.clear();
  }
}
