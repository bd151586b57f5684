// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Saving a file the console made (CSV, snapshot): through the desktop app's
 * save dialog when there is one, otherwise as a browser download.
 */
import type { Session } from './state/session.svelte.js';

export async function saveFile(s: Session, name: string, data: Uint8Array | string, type: string): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  if (s.bridge) {
    const r = await s.bridge.invoke('bulkhead:snapshot:save', { bytes, suggestedName: name });
    if (r) s.notify('success', `Saved ${r.path}.`);
    return;
  }
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  s.notify('success', `Downloaded ${name}.`);
}
