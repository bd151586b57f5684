// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import {
  containsAddress,
  formatAddress,
  formatInterval,
  mergeIntervals,
  parseAddress,
  parseInterval,
  parseRange,
  prefixLengthOf,
  subtractIntervals,
  unmapIpv4,
  type IpInterval,
} from './ip.js';

/** Intervals from element texts, and back, so cases read as addresses. */
const iv = (...texts: string[]): IpInterval[] => texts.map((t) => parseInterval(t)!);
const show = (list: IpInterval[]) => list.map(formatInterval);

describe('parseAddress', () => {
  it.each<[string, string, boolean, { family: 4 | 6; value: bigint; prefix?: number }]>([
    ['IPv4', '10.0.0.1', false, { family: 4, value: 0x0a000001n }],
    ['IPv4 extremes', '255.255.255.255', false, { family: 4, value: 0xffffffffn }],
    ['IPv4 CIDR', '10.0.0.0/8', true, { family: 4, value: 0x0a000000n, prefix: 8 }],
    ['IPv6 full', '2001:db8:0:0:0:0:0:1', false, { family: 6, value: 0x20010db8000000000000000000000001n }],
    ['IPv6 compressed', '2001:db8::1', false, { family: 6, value: 0x20010db8000000000000000000000001n }],
    ['IPv6 all zero', '::', false, { family: 6, value: 0n }],
    ['IPv6 loopback', '::1', false, { family: 6, value: 1n }],
    ['IPv6 trailing ::', 'fe80::', false, { family: 6, value: 0xfe80n << 112n }],
    ['IPv6 upper case', 'FD00::A', false, { family: 6, value: (0xfd00n << 112n) | 0xan }],
    ['IPv6 dotted tail', '::ffff:10.0.0.1', false, { family: 6, value: 0xffff0a000001n }],
    ['IPv6 CIDR', 'fd00::/64', true, { family: 6, value: 0xfd00n << 112n, prefix: 64 }],
    ['IPv6 /128', '::1/128', true, { family: 6, value: 1n, prefix: 128 }],
  ])('parses %s', (_name, text, allowPrefix, want) => {
    expect(parseAddress(text, allowPrefix)).toEqual(want);
  });

  it.each<[string, string, boolean]>([
    ['empty', '', true],
    ['three octets', '10.0.1', true],
    ['five octets', '10.0.0.1.2', true],
    ['octet over 255', '10.0.0.256', true],
    ['leading zero (octal ambiguity)', '10.0.0.01', true],
    ['sign', '10.0.0.+1', true],
    ['space', ' 10.0.0.1', true],
    ['prefix not allowed', '10.0.0.0/8', false],
    ['IPv4 prefix over 32', '10.0.0.0/33', true],
    ['IPv6 prefix over 128', '::/129', true],
    ['empty prefix', '10.0.0.0/', true],
    ['two ::', '1::2::3', true],
    ['nine groups', '1:2:3:4:5:6:7:8:9', true],
    ['seven groups without ::', '1:2:3:4:5:6:7', true],
    [':: standing for no group', '1:2:3:4::5:6:7:8', true],
    ['five hex digits', '12345::', true],
    ['dotted quad not last', '::1.2.3.4:5', true],
    ['zone id', 'fe80::1%eth0', true],
    ['hostname', 'example.com', true],
  ])('refuses %s', (_name, text, allowPrefix) => {
    expect(parseAddress(text, allowPrefix)).toBeNull();
  });
});

describe('formatAddress', () => {
  it.each<[string, string, string]>([
    ['IPv4', '192.168.0.1', '192.168.0.1'],
    ['compresses the longest zero run', '2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'],
    ['the first of equal runs', '2001:0:0:1:0:0:1:1', '2001::1:0:0:1:1'],
    ['not a single zero group', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['lower case without leading zeros', 'FD00:00AB::0001', 'fd00:ab::1'],
    ['all zeros', '0:0:0:0:0:0:0:0', '::'],
    ['IPv4-mapped in mixed notation', '::ffff:a00:1', '::ffff:10.0.0.1'],
  ])('%s', (_name, text, want) => {
    const a = parseAddress(text, false)!;
    expect(formatAddress(a.family, a.value)).toBe(want);
  });
});

describe('unmapIpv4', () => {
  it('turns ::ffff:a.b.c.d into the IPv4 address and leaves others', () => {
    expect(unmapIpv4(parseAddress('::ffff:10.0.0.1', false)!)).toEqual({ family: 4, value: 0x0a000001n });
    expect(unmapIpv4(parseAddress('::ffff:10.0.0.0/104', true)!)).toEqual({ family: 4, value: 0x0a000000n, prefix: 8 });
    expect(unmapIpv4(parseAddress('fd00::1', false)!)).toEqual({ family: 6, value: (0xfd00n << 112n) | 1n });
  });
});

describe('parseRange and parseInterval', () => {
  it.each<[string, string, string | undefined, string | null]>([
    ['an address', '10.0.0.1', undefined, '10.0.0.1/32'],
    ['a CIDR with host bits set is masked', '10.1.2.3/8', undefined, '10.0.0.0/8'],
    ['a from-to range', '10.0.0.1', '10.0.0.9', '10.0.0.1-10.0.0.9'],
    ['a range that is a block', '10.0.0.0', '10.0.0.255', '10.0.0.0/24'],
    ['IPv6 range', 'fd00::', 'fd00::ffff', 'fd00::/112'],
    ['/0', '0.0.0.0/0', undefined, '0.0.0.0/0'],
    ['to below from', '10.0.0.9', '10.0.0.1', null],
    ['mixed families', '10.0.0.1', 'fd00::1', null],
    ['a CIDR with a to_ip', '10.0.0.0/8', '10.0.0.9', null],
  ])('%s', (_name, from, to, want) => {
    const r = parseRange(from, to);
    expect(r === null ? null : formatInterval(r)).toBe(want);
  });

  it.each(['10.0.0.1/32', '10.0.0.0/8', '10.0.0.1-10.0.0.9', 'fd00::/64', 'fd00::1-fd00::5', '::/0'])(
    'formatInterval and parseInterval round-trip %s',
    (text) => {
      expect(formatInterval(parseInterval(text)!)).toBe(text);
    },
  );

  it('reads a plain address as a single-address element', () => {
    expect(show(iv('10.0.0.7'))).toEqual(['10.0.0.7/32']);
  });
});

describe('prefixLengthOf', () => {
  it.each<[string, number | null]>([
    ['10.0.0.0/8', 8],
    ['10.0.0.4-10.0.0.7', 30],
    ['10.0.0.5-10.0.0.6', null], // two addresses, not aligned
    ['10.0.0.0-10.0.0.2', null], // three addresses
    ['::/0', 0],
  ])('%s → %s', (text, want) => {
    expect(prefixLengthOf(parseInterval(text)!)).toBe(want);
  });
});

describe('mergeIntervals', () => {
  it.each<[string, string[], string[]]>([
    ['sorts and joins overlapping', ['10.0.0.8/29', '10.0.0.0/29'], ['10.0.0.0/28']],
    ['joins adjacent addresses', ['10.0.0.1', '10.0.0.2', '10.0.0.3'], ['10.0.0.1-10.0.0.3']],
    ['keeps gaps', ['10.0.0.1', '10.0.0.3'], ['10.0.0.1/32', '10.0.0.3/32']],
    ['swallows contained', ['10.0.0.0/8', '10.1.0.0/16'], ['10.0.0.0/8']],
    [
      'IPv4 before IPv6, never joined across families',
      ['::/0', '255.255.255.255', '::1'],
      ['255.255.255.255/32', '::/0'],
    ],
    ['duplicates', ['fd00::1', 'fd00::1'], ['fd00::1/128']],
    ['empty', [], []],
  ])('%s', (_name, input, want) => {
    expect(show(mergeIntervals(iv(...input)))).toEqual(want);
  });
});

describe('subtractIntervals', () => {
  it.each<[string, string[], string[], string[]]>([
    ['cuts a hole', ['10.0.0.0/24'], ['10.0.0.128/26'], ['10.0.0.0/25', '10.0.0.192/26']],
    ['cuts the start', ['10.0.0.0/24'], ['10.0.0.0-10.0.0.9'], ['10.0.0.10-10.0.0.255']],
    ['cuts the end', ['10.0.0.0/24'], ['10.0.0.255'], ['10.0.0.0-10.0.0.254']],
    ['removes all', ['10.0.0.0/24'], ['10.0.0.0/8'], []],
    [
      'several cuts',
      ['10.0.0.0/28'],
      ['10.0.0.2', '10.0.0.4/31'],
      ['10.0.0.0/31', '10.0.0.3/32', '10.0.0.6-10.0.0.15'],
    ],
    ['other family untouched', ['10.0.0.0/24', 'fd00::/120'], ['::/0'], ['10.0.0.0/24']],
    ['disjoint', ['10.0.0.0/24'], ['11.0.0.0/8'], ['10.0.0.0/24']],
  ])('%s', (_name, from, minus, want) => {
    expect(show(subtractIntervals(iv(...from), iv(...minus)))).toEqual(want);
  });
});

describe('containsAddress', () => {
  const list = mergeIntervals(iv('10.0.0.0/24', '10.0.2.5-10.0.2.9', 'fd00::/64'));
  it.each<[string, boolean]>([
    ['10.0.0.0', true],
    ['10.0.0.255', true],
    ['10.0.1.0', false],
    ['10.0.2.4', false],
    ['10.0.2.9', true],
    ['10.0.2.10', false],
    ['::ffff:10.0.0.7', true],
    ['fd00::ffff', true],
    ['fd00:0:0:1::', false],
    ['not an address', false],
  ])('%s → %s', (ip, want) => {
    expect(containsAddress(list, ip)).toBe(want);
  });
});
