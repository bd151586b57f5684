// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch, PatchError } from './patch.js';

describe('mergePatch (RFC 7386)', () => {
  it('merges objects, replaces lists and deletes keys set to null', () => {
    const t = { metadata: { labels: { a: '1', b: '2' } }, spec: { ports: [1, 2] } };
    expect(mergePatch(t, { metadata: { labels: { b: null, c: '3' } }, spec: { ports: [3] } })).toEqual({
      metadata: { labels: { a: '1', c: '3' } },
      spec: { ports: [3] },
    });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  it('adds, replaces, removes and tests with escaped keys', () => {
    const t = { metadata: { labels: { 'a/b': 'x' } }, list: [1, 3] };
    expect(
      jsonPatch(t, [
        { op: 'test', path: '/metadata/labels/a~1b', value: 'x' },
        { op: 'replace', path: '/metadata/labels/a~1b', value: 'y' },
        { op: 'add', path: '/list/1', value: 2 },
        { op: 'add', path: '/list/-', value: 4 },
        { op: 'remove', path: '/list/0' },
      ]),
    ).toEqual({ metadata: { labels: { 'a/b': 'y' } }, list: [2, 3, 4] });
  });

  it('fails a test operation that does not hold, leaving the input untouched', () => {
    const t = { a: 1 };
    expect(() => jsonPatch(t, [{ op: 'test', path: '/a', value: 2 }])).toThrow(PatchError);
    expect(t).toEqual({ a: 1 });
  });
});
