// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { fnv1a64Hex, setNameOf } from './hash.js';

describe('fnv1a64Hex', () => {
  // Reference values of FNV-1a 64 (Fowler/Noll/Vo test vectors; the last from a BigInt reference).
  it.each([
    ['empty string: the offset basis', '', 'cbf29ce484222325'],
    ['one byte', 'a', 'af63dc4c8601ec8c'],
    ['a word', 'foobar', '85944171f73967e8'],
    ['UTF-8 bytes, not UTF-16 units', 'héllo/orgs/1/labels/12', '8c5f2194ef45de1a'],
  ])('%s', (_name, text, want) => {
    expect(fnv1a64Hex(text)).toBe(want);
  });
});

describe('setNameOf', () => {
  it('is lg_ and the first 12 hex digits of the hash', () => {
    expect(setNameOf('foobar')).toBe('lg_85944171f739');
  });

  it('differs for different keys and is stable for equal ones', () => {
    expect(setNameOf('[["/orgs/1/labels/1"]]')).toBe(setNameOf('[["/orgs/1/labels/1"]]'));
    expect(setNameOf('[["/orgs/1/labels/1"]]')).not.toBe(setNameOf('[["/orgs/1/labels/2"]]'));
  });
});
