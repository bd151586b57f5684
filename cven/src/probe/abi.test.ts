// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Layout test: abi.ts against the C headers as the built libbulkhead compiled them (no root needed).
import { describe, expect, it } from 'vitest';
import { LAYOUTS } from './abi.js';
import { abiOffsetof, abiSizeof } from './ffi.js';

describe('probe ABI: abi.ts matches bpf/include/bulkhead/*.h', () => {
  for (const layout of LAYOUTS) {
    it(`struct ${layout.name} has the size abi.ts expects`, () => {
      expect(abiSizeof(layout.name)).toBe(layout.size);
    });

    it(`struct ${layout.name} has every field at the offset abi.ts expects`, () => {
      const offsets = Object.fromEntries(Object.keys(layout.fields).map((f) => [f, abiOffsetof(layout.name, f)]));
      const expected = Object.fromEntries(Object.entries(layout.fields).map(([f, d]) => [f, d.offset]));
      expect(offsets).toEqual(expected);
    });

    it(`struct ${layout.name}'s fields tile it without gaps or overlaps`, () => {
      const fields = Object.values(layout.fields).sort((a, b) => a.offset - b.offset);
      let end = 0;
      for (const f of fields) {
        expect(f.offset).toBe(end);
        end = f.offset + f.size;
      }
      expect(end).toBe(layout.size);
    });
  }

  it('knows no struct or field the headers do not define', () => {
    expect(abiSizeof('bh_no_such_struct')).toBeLessThan(0);
    expect(abiOffsetof('bh_flow_key', 'no_such_field')).toBeLessThan(0);
  });
});
