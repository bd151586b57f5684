// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { podLabels, type ProfileLabelRule } from './pod-labels.js';

const L = (id: number, key: string, value: string) => ({ href: `/orgs/1/labels/${id}`, key, value });
const web = L(1, 'role', 'web');
const db = L(2, 'role', 'db');
const shop = L(3, 'app', 'shop');
const prod = L(4, 'env', 'prod');
const existing = new Map([web, db, shop, prod].map((l) => [`${l.key}=${l.value}`, l]));
const keys = new Set(['role', 'app', 'env', 'loc']);

describe('podLabels (POLICY.md precedence)', () => {
  const cases: {
    name: string;
    profile: ProfileLabelRule[];
    pod: { labels: Record<string, string>; annotations: Record<string, string> };
    want: string[];
  }[] = [
    {
      name: 'profile assignment applies',
      profile: [{ key: 'app', assignment: shop }],
      pod: { labels: {}, annotations: {} },
      want: ['app=shop'],
    },
    {
      name: 'an existing annotation label applies',
      profile: [],
      pod: { labels: {}, annotations: { 'bulkhead.io/role': 'web' } },
      want: ['role=web'],
    },
    {
      name: 'the assignment beats the annotation (anti-spoofing)',
      profile: [{ key: 'app', assignment: shop }],
      pod: { labels: {}, annotations: { 'bulkhead.io/app': 'other' } },
      want: ['app=shop'],
    },
    {
      name: 'an annotation naming a label that does not exist is ignored',
      profile: [],
      pod: { labels: {}, annotations: { 'bulkhead.io/role': 'ghost' } },
      want: [],
    },
    {
      name: 'a restriction allows only its labels',
      profile: [{ key: 'role', restriction: [db] }],
      pod: { labels: {}, annotations: { 'bulkhead.io/role': 'web' } },
      want: [],
    },
    {
      name: 'a restriction lets its own labels through',
      profile: [{ key: 'role', restriction: [db] }],
      pod: { labels: {}, annotations: { 'bulkhead.io/role': 'db' } },
      want: ['role=db'],
    },
    {
      name: 'other annotations are not labels',
      profile: [],
      pod: { labels: { role: 'web' }, annotations: { 'example.com/role': 'web' } },
      want: [],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const r = podLabels(c.profile, c.pod, existing, keys);
      expect(r.labels.map((l) => `${l.key}=${l.value}`)).toEqual(c.want);
    });

  it('the label map beats the profile, and names labels to create', () => {
    const r = podLabels(
      [{ key: 'env', assignment: prod }],
      { labels: { tier: 'db', stage: 'qa' }, annotations: {} },
      existing,
      keys,
      { tier: 'role', stage: 'env' },
    );
    expect(r.labels.map((l) => `${l.key}=${l.value}`)).toEqual(['role=db']);
    expect(r.missing).toEqual([{ key: 'env', value: 'qa' }]);
  });

  it('says why an annotation was ignored', () => {
    const r = podLabels(
      [{ key: 'role', restriction: [db] }],
      { labels: {}, annotations: { 'bulkhead.io/role': 'web' } },
      existing,
      keys,
    );
    expect(r.ignored).toEqual(['bulkhead.io/role: the profile does not allow role=web']);
  });
});
