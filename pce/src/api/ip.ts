// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * IP addresses for the whole code base: parse and format IPv4/IPv6 addresses
 * and CIDRs, and the interval arithmetic that address sets are built from
 * (merge, subtract, contain). One parser, so validation, the compiler and the
 * evaluator agree on what an address is.
 *
 * Owns: the textual forms accepted (dotted quad without leading zeros; IPv6
 * with at most one `::` and an optional dotted IPv4 tail; no zone ids) and
 * the forms written (RFC 5952 for IPv6; address-set elements as `addr/len`
 * for exact CIDR blocks, `first-last` otherwise).
 * Pure and BigInt-based: every address is a `bigint` (IPv4 in 32 bits, IPv6
 * in 128). Must not import: anything.
 */

/** IP version. */
export type IpFamily = 4 | 6;

/** A parsed address; `prefix` only when the text had `/len` (and it was allowed). */
export interface ParsedAddress {
  family: IpFamily;
  value: bigint;
  prefix?: number;
}

/**
 * An inclusive run of addresses of one family, `first <= last`. A single
 * address has `first === last`.
 */
export interface IpInterval {
  family: IpFamily;
  first: bigint;
  last: bigint;
}

/** Number of bits of an address of each family. */
export const ADDRESS_BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const p of parts) {
    if (!DECIMAL.test(p) || p.length > 3) return null;
    const n = Number(p);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseGroups(text: string): bigint[] | null {
  if (text === '') return [];
  const out: bigint[] = [];
  const parts = text.split(':');
  for (const [i, p] of parts.entries()) {
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p);
      if (v4 === null) return null;
      out.push(v4 >> 16n, v4 & 0xffffn);
    } else {
      if (!HEX_GROUP.test(p)) return null;
      out.push(BigInt(`0x${p}`));
    }
  }
  return out;
}

function parseIpv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  // A dotted tail is only allowed at the very end.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const g of [...head, ...Array<bigint>(missing).fill(0n), ...tail]) value = (value << 16n) | g;
  return value;
}

/**
 * Parse an IPv4 or IPv6 address, or (with `allowPrefix`) a CIDR such as
 * `10.0.0.0/8` or `fd00::/64`. Returns null for anything else.
 * A CIDR's host bits may be set (`10.1.2.3/8`); `intervalOf` masks them.
 *
 * @example parseAddress('10.0.0.1', false) // { family: 4, value: 167772161n }
 */
export function parseAddress(text: string, allowPrefix: boolean): ParsedAddress | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family: IpFamily = addr.includes(':') ? 6 : 4;
  const value = family === 4 ? parseIpv4(addr) : parseIpv6(addr);
  if (value === null) return null;
  if (slash < 0) return { family, value };
  if (!allowPrefix) return null;
  const len = text.slice(slash + 1);
  if (!DECIMAL.test(len) || Number(len) > ADDRESS_BITS[family]) return null;
  return { family, value, prefix: Number(len) };
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address; others unchanged. */
export function unmapIpv4(a: ParsedAddress): ParsedAddress {
  if (a.family !== 6 || a.value >> 32n !== 0xffffn) return a;
  if (a.prefix !== undefined && a.prefix < 96) return a;
  const out: ParsedAddress = { family: 4, value: a.value & 0xffffffffn };
  if (a.prefix !== undefined) out.prefix = a.prefix - 96;
  return out;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}

/** Text of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed). */
export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === 4) return formatIpv4(value);
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i -= 1) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** The addresses a parsed address or CIDR stands for (host bits of a CIDR masked). */
export function intervalOf(a: ParsedAddress): IpInterval {
  const bits = BigInt(ADDRESS_BITS[a.family]);
  if (a.prefix === undefined) return { family: a.family, first: a.value, last: a.value };
  const hostBits = bits - BigInt(a.prefix);
  const first = (a.value >> hostBits) << hostBits;
  return { family: a.family, first, last: first + (1n << hostBits) - 1n };
}

/**
 * An IP list range: `from` alone (address or CIDR) or `from`-`to` (two
 * addresses of one family, `from <= to`). Null when malformed.
 */
export function parseRange(from: string, to?: string): IpInterval | null {
  const a = parseAddress(from, to === undefined);
  if (!a) return null;
  if (to === undefined) return intervalOf(a);
  const b = parseAddress(to, false);
  if (!b || b.family !== a.family || b.value < a.value) return null;
  return { family: a.family, first: a.value, last: b.value };
}

/** Parse one address-set element as `formatInterval` writes it (`a`, `a/len` or `a-b`). */
export function parseInterval(text: string): IpInterval | null {
  const dash = text.indexOf('-');
  return dash < 0 ? parseRange(text) : parseRange(text.slice(0, dash), text.slice(dash + 1));
}

/** Order: IPv4 before IPv6, then by first address, then by last. */
export function compareIntervals(a: IpInterval, b: IpInterval): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  if (a.last !== b.last) return a.last < b.last ? -1 : 1;
  return 0;
}

/**
 * Sorted (IPv4 first, then by address), non-overlapping intervals covering
 * exactly the input; overlapping and adjacent intervals are joined.
 */
export function mergeIntervals(list: readonly IpInterval[]): IpInterval[] {
  const sorted = [...list].sort(compareIntervals);
  const out: IpInterval[] = [];
  for (const i of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === i.family && i.first <= prev.last + 1n) {
      if (i.last > prev.last) prev.last = i.last;
    } else {
      out.push({ family: i.family, first: i.first, last: i.last });
    }
  }
  return out;
}

/** The addresses of `from` that are not in `minus`, merged. */
export function subtractIntervals(from: readonly IpInterval[], minus: readonly IpInterval[]): IpInterval[] {
  const cuts = mergeIntervals(minus);
  const out: IpInterval[] = [];
  for (const src of mergeIntervals(from)) {
    let first = src.first;
    for (const c of cuts) {
      if (c.family !== src.family || c.last < first || c.first > src.last) continue;
      if (c.first > first) out.push({ family: src.family, first, last: c.first - 1n });
      first = c.last + 1n;
      if (first > src.last) break;
    }
    if (first <= src.last) out.push({ family: src.family, first, last: src.last });
  }
  return out;
}

/** Prefix length when the interval is exactly one CIDR block, else null. */
export function prefixLengthOf(i: IpInterval): number | null {
  const size = i.last - i.first + 1n;
  if ((size & (size - 1n)) !== 0n) return null; // not a power of two
  if ((i.first & (size - 1n)) !== 0n) return null; // not aligned
  return ADDRESS_BITS[i.family] - (size.toString(2).length - 1);
}

/**
 * An address-set element: `addr/len` when the interval is exactly a CIDR
 * block (a single address is `/32` or `/128`), else `first-last`.
 *
 * @example formatInterval({ family: 4, first: 167772160n, last: 167772162n }) // '10.0.0.0-10.0.0.2'
 */
export function formatInterval(i: IpInterval): string {
  const len = prefixLengthOf(i);
  if (len !== null) return `${formatAddress(i.family, i.first)}/${len}`;
  return `${formatAddress(i.family, i.first)}-${formatAddress(i.family, i.last)}`;
}

/** Whether `value` lies in one of `merged` (sorted and non-overlapping, as `mergeIntervals` returns). */
export function intervalsContain(merged: readonly IpInterval[], family: IpFamily, value: bigint): boolean {
  let lo = 0;
  let hi = merged.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = merged[mid]!;
    if (m.family < family || (m.family === family && m.last < value)) lo = mid + 1;
    else if (m.family > family || m.first > value) hi = mid - 1;
    else return true;
  }
  return false;
}

/** Whether the address text `ip` (IPv4-mapped IPv6 counts as IPv4) lies in `merged`. */
export function containsAddress(merged: readonly IpInterval[], ip: string): boolean {
  const a = parseAddress(ip, false);
  if (!a) return false;
  const plain = unmapIpv4(a);
  return intervalsContain(merged, plain.family, plain.value);
}
