// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The one binding to libbulkhead (bpf/helper) through koffi.
 *
 * Owns: loading the library, the C prototypes (twin of
 * bpf/helper/libbulkhead.h, word for word), the reusable record buffers,
 * and turning negative errno returns into `ProbeError`s with the helper's
 * own message (which names the failed step).
 * Must: be the ONLY file that imports koffi or loads the library
 * (STYLE.md "Module boundaries"). Decoding lives in abi.ts.
 * Library path: $BULKHEAD_LIBBULKHEAD, else bpf/build/libbulkhead.so of
 * this checkout (built by `npm run build`, which runs `make -C bpf`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import koffi, { type LibraryHandle } from 'koffi';
import {
  decodeCounters,
  decodeDropRecords,
  decodeFlowRecords,
  decodeProgStats,
  DROP_RECORD,
  encodeOptions,
  FLOW_RECORD,
  PROBE_COUNTERS,
  PROG_STATS,
  type DropRecord,
  type FlowRecord,
  type ProbeCounters,
  type ProbeOptions,
  type ProgStats,
} from './abi.js';
import { ProbeError, type ProbeErrorCode } from './errors.js';

/** Records per drain call: one call moves this many (bpf/README.md "Draining"). */
export const DRAIN_BATCH = 4096;

const ENODEV = 19;
const EPERM = 1;

/** Where the built library is, unless $BULKHEAD_LIBBULKHEAD says otherwise. */
export function libraryPath(): string {
  return (
    process.env.BULKHEAD_LIBBULKHEAD ?? fileURLToPath(new URL('../../../bpf/build/libbulkhead.so', import.meta.url))
  );
}

/** A bound C function (koffi does not export the type by name). */
type CFunction = ReturnType<LibraryHandle['func']>;

interface Api {
  open: CFunction;
  attach: CFunction;
  detach: CFunction;
  drainFlows: CFunction;
  drainDrops: CFunction;
  readCounters: CFunction;
  enableRunStats: CFunction;
  readProgStats: CFunction;
  close: CFunction;
  lastError: CFunction;
  ifindex: CFunction;
  monotonicNs: CFunction;
  abiSizeof: CFunction;
  abiOffsetof: CFunction;
}

let api: Api | undefined;

function load(): Api {
  if (api) return api;
  const path = libraryPath();
  if (!existsSync(path)) {
    throw new ProbeError(
      'BH_ERR_PROBE_LIBRARY',
      `libbulkhead is not built (${path} is missing): run \`npm run build\` (it runs \`make -C bpf\`)`,
    );
  }
  let lib: LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (cause) {
    throw new ProbeError('BH_ERR_PROBE_LIBRARY', `could not load ${path}: ${String(cause)}`, { cause });
  }
  koffi.opaque('bh_probe');
  // Prototypes: keep aligned with bpf/helper/libbulkhead.h. Record buffers are void *.
  api = {
    open: lib.func('int bh_probe_open(const void *opts, _Out_ bh_probe **out)'),
    attach: lib.func('int bh_probe_attach(bh_probe *p, int ifindex)'),
    detach: lib.func('int bh_probe_detach(bh_probe *p, int ifindex)'),
    drainFlows: lib.func('int bh_probe_drain_flows(bh_probe *p, void *buf, unsigned int cap)'),
    drainDrops: lib.func('int bh_probe_drain_drops(bh_probe *p, void *buf, unsigned int cap)'),
    readCounters: lib.func('int bh_probe_read_counters(bh_probe *p, void *out)'),
    enableRunStats: lib.func('int bh_probe_enable_run_stats(bh_probe *p)'),
    readProgStats: lib.func('int bh_probe_read_prog_stats(bh_probe *p, void *out)'),
    close: lib.func('void bh_probe_close(bh_probe *p)'),
    lastError: lib.func('const char *bh_last_error(void)'),
    ifindex: lib.func('int bh_ifindex(const char *name)'),
    monotonicNs: lib.func('uint64_t bh_monotonic_ns(void)'),
    abiSizeof: lib.func('long bh_abi_sizeof(const char *type)'),
    abiOffsetof: lib.func('long bh_abi_offsetof(const char *type, const char *field)'),
  };
  return api;
}

function fail(code: ProbeErrorCode, ret: number, hint = ''): ProbeError {
  const detail = String(load().lastError() ?? '') || `errno ${-ret}`;
  return new ProbeError(code, `libbulkhead: ${detail}${hint}`, { errno: -ret });
}

/** Size of a shared struct as the built library compiled it (for abi.test.ts). */
export function abiSizeof(type: string): number {
  return Number(load().abiSizeof(type));
}

/** Offset of a field of a shared struct as compiled (for abi.test.ts). */
export function abiOffsetof(type: string, field: string): number {
  return Number(load().abiOffsetof(type, field));
}

/** CLOCK_MONOTONIC now, in ns: the clock of every `*Ns` field of a record. */
export function monotonicNs(): bigint {
  return BigInt(load().monotonicNs() as number | bigint);
}

/**
 * The ifindex of `name` in this process's network namespace.
 * @throws ProbeError BH_ERR_PROBE_INTERFACE (terminal): no such interface.
 */
export function interfaceIndex(name: string): number {
  const ret = load().ifindex(name) as number;
  if (ret === -ENODEV)
    throw new ProbeError(
      'BH_ERR_PROBE_INTERFACE',
      `interface ${name} does not exist in this network namespace; list interfaces with \`ip -br link\``,
      { errno: ENODEV },
    );
  if (ret < 0) throw fail('BH_ERR_PROBE_INTERFACE', ret);
  return ret;
}

/**
 * A loaded probe: the programs and maps in the kernel, attached to zero or
 * more host-side veths. One owner; not shared across threads. Always
 * `close()` it: TC filters outlive the process otherwise.
 *
 * @example
 * const probe = Probe.open();
 * try {
 *   probe.attach(interfaceIndex('veth1a2b'));
 *   for (const flow of probe.drainFlows()) console.log(flow);
 * } finally {
 *   probe.close();
 * }
 */
export class Probe {
  #handle: unknown;
  readonly #flowBuf = Buffer.alloc(DRAIN_BATCH * FLOW_RECORD.size);
  readonly #dropBuf = Buffer.alloc(DRAIN_BATCH * DROP_RECORD.size);
  readonly #countersBuf = Buffer.alloc(PROBE_COUNTERS.size);
  readonly #progStatsBuf = Buffer.alloc(PROG_STATS.size);

  private constructor(handle: unknown) {
    this.#handle = handle;
  }

  /**
   * Load the probe and start the drop recorder (no interface yet).
   * @throws ProbeError BH_ERR_PROBE_LIBRARY (terminal): library not built.
   * @throws ProbeError BH_ERR_PROBE_OPEN (terminal): not root, or the kernel refused.
   */
  static open(options: ProbeOptions = {}): Probe {
    const lib = load();
    const out: unknown[] = [null];
    const ret = lib.open(encodeOptions(options), out) as number;
    if (ret < 0) {
      const hint = ret === -EPERM ? '; the probe needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)' : '';
      throw fail('BH_ERR_PROBE_OPEN', ret, hint);
    }
    return new Probe(out[0]);
  }

  #live(): unknown {
    if (this.#handle === null) throw new ProbeError('BH_ERR_PROBE_CLOSED', 'the probe is closed');
    return this.#handle;
  }

  /**
   * Account both directions of `ifindex` (a pod's host-side veth). Adopts an
   * existing clsact qdisc; idempotent.
   * @throws ProbeError BH_ERR_PROBE_ATTACH (transient)
   */
  attach(ifindex: number): void {
    const ret = load().attach(this.#live(), ifindex) as number;
    if (ret < 0) throw fail('BH_ERR_PROBE_ATTACH', ret);
  }

  /**
   * Remove our filters from `ifindex`, and the qdisc if attach() created it.
   * @throws ProbeError BH_ERR_PROBE_ATTACH (transient)
   */
  detach(ifindex: number): void {
    const ret = load().detach(this.#live(), ifindex) as number;
    if (ret < 0) throw fail('BH_ERR_PROBE_ATTACH', ret);
  }

  /**
   * Move every flow out of the kernel map (in batches of DRAIN_BATCH). Each
   * record holds the counts since that flow's previous drain.
   * @throws ProbeError BH_ERR_PROBE_DRAIN (transient)
   */
  drainFlows(): FlowRecord[] {
    const lib = load();
    const handle = this.#live();
    const out: FlowRecord[] = [];
    for (;;) {
      const n = lib.drainFlows(handle, this.#flowBuf, DRAIN_BATCH) as number;
      if (n < 0) throw fail('BH_ERR_PROBE_DRAIN', n);
      if (n > 0) out.push(...decodeFlowRecords(this.#flowBuf, n));
      if (n < DRAIN_BATCH) return out;
    }
  }

  /**
   * Move every pending drop record out of the ring buffer.
   * @throws ProbeError BH_ERR_PROBE_DRAIN (transient)
   */
  drainDrops(): DropRecord[] {
    const lib = load();
    const handle = this.#live();
    const out: DropRecord[] = [];
    for (;;) {
      const n = lib.drainDrops(handle, this.#dropBuf, DRAIN_BATCH) as number;
      if (n < 0) throw fail('BH_ERR_PROBE_DRAIN', n);
      if (n > 0) out.push(...decodeDropRecords(this.#dropBuf, n));
      if (n < DRAIN_BATCH) return out;
    }
  }

  /**
   * The loss counters (and totals to reconcile them with).
   * @throws ProbeError BH_ERR_PROBE_DRAIN (transient)
   */
  readCounters(): ProbeCounters {
    const ret = load().readCounters(this.#live(), this.#countersBuf) as number;
    if (ret < 0) throw fail('BH_ERR_PROBE_DRAIN', ret);
    return decodeCounters(this.#countersBuf);
  }

  /**
   * Have the kernel account the run time of BPF programs until close()
   * (it costs a clock read per program run, so only benchmarks turn it on).
   * @throws ProbeError BH_ERR_PROBE_DRAIN (transient)
   */
  enableRunStats(): void {
    const ret = load().enableRunStats(this.#live()) as number;
    if (ret < 0) throw fail('BH_ERR_PROBE_DRAIN', ret);
  }

  /**
   * What each program has cost (runs and ns) since enableRunStats().
   * @throws ProbeError BH_ERR_PROBE_DRAIN (transient)
   */
  readProgStats(): ProgStats {
    const ret = load().readProgStats(this.#live(), this.#progStatsBuf) as number;
    if (ret < 0) throw fail('BH_ERR_PROBE_DRAIN', ret);
    return decodeProgStats(this.#progStatsBuf);
  }

  /** Detach from every interface, unload, free. Safe to call twice. */
  close(): void {
    if (this.#handle === null) return;
    load().close(this.#handle);
    this.#handle = null;
  }

  get isClosed(): boolean {
    return this.#handle === null;
  }
}
