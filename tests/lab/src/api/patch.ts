// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
 * Strategic merge patch is applied as a merge patch: lists are replaced
 * whole and `$patch` directives are not understood (what the lab does not
 * emulate). Pure.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class PatchError extends Error {}

const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

const decode = (p: string): string[] => {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`JSON patch path "${p}" must start with /`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
};

function parentOf(
  doc: unknown,
  parts: string[],
  path: string,
): { parent: Record<string, unknown> | unknown[]; key: string } {
  let cur: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else cur = undefined;
    if (cur === undefined) throw new PatchError(`JSON patch path "${path}": "${part}" does not exist`);
  }
  if (!Array.isArray(cur) && !isObj(cur)) throw new PatchError(`JSON patch path "${path}": parent is not a container`);
  return { parent: cur, key: parts[parts.length - 1] ?? '' };
}

function getAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const part of decode(path)) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

export function jsonPatch(target: unknown, ops: JsonPatchOp[]): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch is an array of operations');
  let doc = structuredClone(target);
  for (const op of ops) {
    const parts = decode(op.path);
    if (parts.length === 0) {
      if (op.op === 'add' || op.op === 'replace') doc = structuredClone(op.value);
      else if (op.op === 'test') {
        if (JSON.stringify(doc) !== JSON.stringify(op.value))
          throw new PatchError('JSON patch test failed at the root');
      } else throw new PatchError(`JSON patch "${op.op}" on the root is not supported`);
      continue;
    }
    const { parent, key } = parentOf(doc, parts, op.path);
    const setAt = (value: unknown, insert: boolean): void => {
      if (Array.isArray(parent)) {
        const i = key === '-' ? parent.length : Number(key);
        if (!Number.isInteger(i) || i < 0 || i > parent.length)
          throw new PatchError(`JSON patch path "${op.path}": bad index`);
        if (insert) parent.splice(i, 0, value);
        else parent[i] = value;
      } else parent[key] = value;
    };
    const removeAt = (): unknown => {
      if (Array.isArray(parent)) {
        const i = Number(key);
        if (!(i >= 0 && i < parent.length)) throw new PatchError(`JSON patch path "${op.path}" does not exist`);
        return parent.splice(i, 1)[0];
      }
      if (!(key in parent)) throw new PatchError(`JSON patch path "${op.path}" does not exist`);
      const v = parent[key];
      delete parent[key];
      return v;
    };
    switch (op.op) {
      case 'add':
        setAt(structuredClone(op.value), true);
        break;
      case 'replace':
        removeAt();
        setAt(structuredClone(op.value), true);
        break;
      case 'remove':
        removeAt();
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, op.path)) !== JSON.stringify(op.value))
          throw new PatchError(`JSON patch test failed at "${op.path}"`);
        break;
      case 'copy':
      case 'move': {
        if (op.from === undefined) throw new PatchError(`JSON patch "${op.op}" needs "from"`);
        const v = structuredClone(getAt(doc, op.from));
        if (op.op === 'move') doc = jsonPatch(doc, [{ op: 'remove', path: op.from }]);
        doc = jsonPatch(doc, [{ op: 'add', path: op.path, value: v }]);
        break;
      }
      default:
        throw new PatchError(
          `JSON patch op "${(op as { op: string }).op}" is not one of add, remove, replace, move, copy, test`,
        );
    }
  }
  return doc;
}
