// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * FNV-1a 64-bit over UTF-8, in 32-bit halves (no BigInt, no node:crypto), and
 * the address-set names built from it.
 *
 * Owns: the set name format `lg_<12 lowercase hex>` (the first 48 bits of the
 * hash of a selector's canonical key). Keep aligned with the nft set names
 * the C-VEN writes (STYLE.md "Naming": sets `lg_*`).
 * Pure. Must not import: ../store, ../http, fastify, node:*.
 */

const encoder = new TextEncoder();

/** FNV-1a 64 of the UTF-8 bytes of `text`, as 16 lowercase hex digits. */
export function fnv1a64Hex(text: string): string {
  // offset basis 0xcbf29ce484222325
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of encoder.encode(text)) {
    lo = (lo ^ byte) >>> 0;
    // h * 0x100000001b3 mod 2^64 = h * 0x1b3 + (h << 40)
    const low = lo * 0x1b3; // < 2^41: exact in a double
    const carry = Math.floor(low / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** The set name of a canonical selector key: `lg_` + the first 12 hex digits of its hash. */
export function setNameOf(canonicalKey: string): string {
  return `lg_${fnv1a64Hex(canonicalKey).slice(0, 12)}`;
}
