// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { certificateNames, ensureTls } from './tls.js';

describe('ensureTls', () => {
  it('makes a CA once and reissues the server certificate from it when the names change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-tls-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const first = await ensureTls(dir, certificateNames(['127.0.0.1']));
    const ca = new X509Certificate(first.ca);
    const cert1 = new X509Certificate(first.cert);
    expect(ca.ca).toBe(true);
    expect(cert1.verify(ca.publicKey)).toBe(true);
    expect(cert1.subjectAltName).toContain('DNS:localhost');
    expect(cert1.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(statSync(join(dir, 'tls', 'server-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777).toBe(0o600);

    const same = await ensureTls(dir, certificateNames(['127.0.0.1']));
    expect(same.cert).toBe(first.cert);

    const second = await ensureTls(dir, certificateNames(['127.0.0.1', '198.18.0.1']));
    const cert2 = new X509Certificate(second.cert);
    expect(second.ca).toBe(first.ca);
    expect(cert2.serialNumber).not.toBe(cert1.serialNumber);
    expect(cert2.subjectAltName).toContain('IP Address:198.18.0.1');
    expect(cert2.verify(ca.publicKey)).toBe(true);
    expect(readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8')).toBe(first.ca);
  });
});
