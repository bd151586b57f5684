// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { matchLabelSelector, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';

describe('parseLabelSelector', () => {
  const l = { app: 'web', env: 'prod', 'example.com/tier': 'front' };
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=web,env=dev', false],
    ['env in (dev, prod)', true],
    ['env notin (prod)', false],
    ['missing notin (x)', true],
    ['example.com/tier', true],
    ['!app', false],
    ['!missing', true],
    ['app=web, env in (prod,qa), !missing', true],
  ])('%j matches {app:web, env:prod} → %s', (sel, want) => {
    expect(parseLabelSelector(sel)(l)).toBe(want);
  });

  it('rejects an invalid key', () => {
    expect(() => parseLabelSelector('bad key=x')).toThrow(SelectorError);
  });
});

describe('matchLabelSelector', () => {
  it('ANDs matchLabels and matchExpressions; an empty selector matches all; undefined matches none', () => {
    expect(
      matchLabelSelector(
        { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] },
        { a: '1', b: '' },
      ),
    ).toBe(true);
    expect(matchLabelSelector({ matchExpressions: [{ key: 'b', operator: 'In', values: ['x'] }] }, { b: 'y' })).toBe(
      false,
    );
    expect(matchLabelSelector({}, { any: 'thing' })).toBe(true);
    expect(matchLabelSelector(undefined, {})).toBe(false);
  });
});

describe('parseFieldSelector', () => {
  const pod = { metadata: { name: 'p', namespace: 'n' }, spec: { nodeName: 'node-a' } };
  it('selects by spec.nodeName, including the empty value for unbound pods', () => {
    expect(parseFieldSelector('spec.nodeName=node-a', ['spec.nodeName'])(pod)).toBe(true);
    expect(parseFieldSelector('spec.nodeName=', ['spec.nodeName'])(pod)).toBe(false);
    expect(parseFieldSelector('spec.nodeName!=node-b,metadata.name=p', ['spec.nodeName', 'metadata.name'])(pod)).toBe(
      true,
    );
  });
  it('refuses unsupported fields as the API server does', () => {
    expect(() => parseFieldSelector('spec.hostname=x', ['metadata.name'])).toThrow(/not supported/);
  });
});
