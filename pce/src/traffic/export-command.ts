// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `bulkhead traffic export [--query FILE] --out FILE.sqlite`: run an
 * explorer query on a PCE (default: the last hour, everything) and write
 * its flows and the objects they reference as an offline snapshot
 * (snapshot.ts). Talks to the PCE as any client does: `--pce`, `--ca`,
 * `--api-key-file` (or BULKHEAD_PCE, BULKHEAD_CA, BULKHEAD_API_KEY_FILE),
 * defaulting to the running demo's files under `.bulkhead/demo/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { AsyncQuery, TrafficFlow, TrafficQuery } from '../api/traffic.js';
import { writeSnapshot } from './snapshot.js';

function fail(message: string, exitCode = 1): Error {
  return Object.assign(new Error(message), { exitCode });
}

interface Conn {
  url: string;
  ca: Buffer;
  auth: string;
}

/** The PCE to talk to: flags, then BULKHEAD_*, then the demo's files. */
export function connection(opts: { pce?: string; ca?: string; apiKeyFile?: string }): Conn {
  const demo = resolve('.bulkhead', 'demo');
  const url =
    opts.pce ??
    process.env.BULKHEAD_PCE ??
    (existsSync(join(demo, 'pce-url')) ? readFileSync(join(demo, 'pce-url'), 'utf8').trim() : undefined);
  const ca = opts.ca ?? process.env.BULKHEAD_CA ?? join(demo, 'pce', 'tls', 'ca.pem');
  const keyFile = opts.apiKeyFile ?? process.env.BULKHEAD_API_KEY_FILE ?? join(demo, 'pce', 'owner-api-key.json');
  if (!url) throw fail('no PCE: give --pce URL (or BULKHEAD_PCE), or start the demo with `npm start`', 2);
  let key: { auth_username: string; secret: string };
  try {
    key = JSON.parse(readFileSync(keyFile, 'utf8')) as typeof key;
  } catch (err) {
    throw fail(
      `--api-key-file: cannot read ${keyFile} (${(err as Error).message}); make a key with \`bulkhead pce api-key create\``,
      2,
    );
  }
  let caPem: Buffer;
  try {
    caPem = readFileSync(ca);
  } catch (err) {
    throw fail(`--ca: cannot read ${ca} (${(err as Error).message})`, 2);
  }
  return {
    url: url.replace(/\/$/, ''),
    ca: caPem,
    auth: `Basic ${Buffer.from(`${key.auth_username}:${key.secret}`).toString('base64')}`,
  };
}

function call<T>(c: Conn, method: string, path: string, body?: unknown): Promise<T> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      `${c.url}/api/v2${path}`,
      {
        method,
        ca: c.ca,
        timeout: 120_000,
        headers: {
          authorization: c.auth,
          accept: 'application/json',
          ...(data ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300)
            return reject(fail(`${method} ${path}: the PCE answered ${res.statusCode}: ${text.slice(0, 300)}`));
          resolvePromise(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', (err) => reject(fail(`cannot reach the PCE at ${c.url}: ${err.message}`)));
    req.on('timeout', () => req.destroy(new Error('no answer in 120 s')));
    req.end(data);
  });
}

export function lastHour(): TrafficQuery {
  const now = Date.now();
  return {
    query_name: 'last hour',
    start_date: new Date(now - 3_600_000).toISOString(),
    end_date: new Date(now + 60_000).toISOString(),
    sources: { include: [[]], exclude: [] },
    destinations: { include: [[]], exclude: [] },
    services: { include: [], exclude: [] },
    policy_decisions: [],
    max_results: 100_000,
  };
}

export function trafficCommand(): Command {
  const exp = new Command('export')
    .description("Write a query's flows and the objects they reference to an offline SQLite snapshot")
    .option('--query <file>', 'explorer query (JSON, the async_queries body); default: the last hour')
    .requiredOption('--out <file>', 'the snapshot file to write (.sqlite)')
    .option('--pce <url>', 'the PCE [env BULKHEAD_PCE; default: the demo]')
    .option('--ca <file>', "the PCE's CA [env BULKHEAD_CA]")
    .option('--api-key-file <file>', 'API key JSON {auth_username, secret} [env BULKHEAD_API_KEY_FILE]')
    .action(async (opts: { query?: string; out: string; pce?: string; ca?: string; apiKeyFile?: string }) => {
      let q: TrafficQuery;
      try {
        q = opts.query ? (JSON.parse(readFileSync(opts.query, 'utf8')) as TrafficQuery) : lastHour();
      } catch (err) {
        throw fail(`--query: cannot read ${opts.query} as JSON: ${(err as Error).message}`, 2);
      }
      const c = connection(opts);
      process.stderr.write(`querying ${c.url} ...\n`);
      const job = await call<AsyncQuery>(c, 'POST', '/orgs/1/traffic_flows/async_queries', q);
      let cur = job;
      for (let i = 0; cur.status !== 'completed' && i < 600; i++) {
        if (cur.status === 'failed') throw fail(`the query failed: ${cur.error ?? 'no reason given'}`);
        await new Promise((r) => setTimeout(r, 500));
        cur = await call<AsyncQuery>(c, 'GET', job.href);
      }
      const flows = await call<TrafficFlow[]>(c, 'GET', cur.result!);
      writeSnapshot(opts.out, q, flows);
      process.stdout.write(`wrote ${flows.length} flows to ${opts.out}\n`);
    });
  return new Command('traffic').description('Traffic: offline snapshots of the explorer').addCommand(exp);
}
