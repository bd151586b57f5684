#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Generates the chart's values.schema.json and README.md from values.yaml,
 * where every value is documented once (helm-docs' convention):
 *
 *   # -- What the value is for (more `#` lines continue it).
 *   # @schema {"enum": ["a", "b"]}      (optional: JSON Schema keywords)
 *   key: default
 *
 * A map whose keys carry their own `# --` comments is a group (an object in
 * the schema, unknown keys refused, so a typo fails the install); any other
 * documented key is a value, typed from its default. A value without a
 * `# --` comment is an error. README.md is README.md.gotmpl with the
 * helm-docs templates it uses replaced (so helm-docs renders it the same):
 * chart.name, chart.description, chart.version, chart.appVersion,
 * chart.valuesTable.
 *
 *   node scripts/chart-docs.mjs           write both files
 *   node scripts/chart-docs.mjs --check   exit 1 when either is out of date
 *   ... --chart DIR                       another chart directory (tests)
 *
 * Owns: the generated files' content. Must not: read anything but the chart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const CHART = fileURLToPath(new URL('../chart/bulkhead/', import.meta.url));

/**
 * Doc comments by dotted path, from values.yaml's text: a `# --` block and
 * any `# @schema` lines directly above a key line.
 */
export function readDocs(text) {
  const docs = new Map();
  const stack = []; // [{ indent, key }]
  let pending = null; // { lines: [], schema: {} }
  for (const [i, line] of text.split('\n').entries()) {
    const comment = /^(\s*)#\s?(.*)$/.exec(line);
    if (comment) {
      const body = comment[2];
      if (body.startsWith('-- ')) pending = { lines: [body.slice(3).trim()], schema: {} };
      else if (pending && body.startsWith('@schema ')) {
        try {
          Object.assign(pending.schema, JSON.parse(body.slice('@schema '.length)));
        } catch (err) {
          throw new Error(`values.yaml:${i + 1}: @schema is not JSON: ${err.message}`);
        }
      } else if (pending) pending.lines.push(body.trim());
      continue;
    }
    if (line.trim() === '') {
      pending = null; // a blank line ends a doc block that no key followed
      continue;
    }
    const key = /^(\s*)([A-Za-z0-9_]+):/.exec(line);
    if (!key) continue; // list items and continuation lines
    const indent = key[1].length;
    while (stack.length && stack.at(-1).indent >= indent) stack.pop();
    stack.push({ indent, key: key[2] });
    if (pending) docs.set(stack.map((s) => s.key).join('.'), pending);
    pending = null;
  }
  return docs;
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOf(v) {
  if (v === null) return undefined;
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // string, boolean, object
}

/** Walk values and docs together: groups and documented values, in file order. */
function walk(values, docs, prefix, visit) {
  for (const [key, value] of Object.entries(values)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const doc = docs.get(path);
    const isGroup = isMap(value) && [...docs.keys()].some((p) => p.startsWith(`${path}.`)) && !doc;
    if (isGroup) {
      visit({ kind: 'group', path, key, value });
      walk(value, docs, path, visit);
      visit({ kind: 'end', path });
    } else if (!doc) throw new Error(`values.yaml: ${path} has no "# --" comment: document every value`);
    else visit({ kind: 'value', path, key, value, doc });
  }
}

const description = (doc) => doc.lines.join(' ').replace(/\s+/g, ' ').trim();

/** values.schema.json for values.yaml's text. */
export function buildSchema(text) {
  const values = parse(text);
  const docs = readDocs(text);
  const root = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Values of the bulkhead chart (generated from values.yaml by scripts/chart-docs.mjs)',
    type: 'object',
    additionalProperties: false,
    properties: {},
  };
  const stack = [root];
  walk(values, docs, '', (n) => {
    const parent = stack.at(-1);
    if (n.kind === 'group') {
      const o = { type: 'object', additionalProperties: false, properties: {} };
      parent.properties[n.key] = o;
      stack.push(o);
    } else if (n.kind === 'end') stack.pop();
    else {
      const type = typeOf(n.value);
      parent.properties[n.key] = {
        ...(type ? { type } : {}),
        description: description(n.doc),
        default: n.value,
        ...n.doc.schema,
      };
    }
  });
  return JSON.stringify(root, null, 2) + '\n';
}

const cell = (s) => s.replace(/\|/g, '\\|');

/** The helm-docs values table: Key | Type | Default | Description. */
export function valuesTable(text) {
  const values = parse(text);
  const docs = readDocs(text);
  const rows = ['| Key | Type | Default | Description |', '|-----|------|---------|-------------|'];
  walk(values, docs, '', (n) => {
    if (n.kind !== 'value') return;
    const type = [n.doc.schema.type ?? typeOf(n.value) ?? 'string'].flat().join(' or ');
    const dflt = n.value === '' ? '`""`' : `\`${JSON.stringify(n.value)}\``;
    rows.push(`| ${n.path} | ${cell(String(type))} | ${cell(dflt)} | ${cell(description(n.doc))} |`);
  });
  return rows.join('\n');
}

/** README.md from its template (the helm-docs templates it uses). */
export function buildReadme(template, chartYaml, valuesText) {
  const chart = parse(chartYaml);
  const known = {
    'chart.name': chart.name,
    'chart.description': chart.description,
    'chart.version': chart.version,
    'chart.appVersion': chart.appVersion,
    'chart.valuesTable': valuesTable(valuesText),
  };
  return template.replace(/\{\{-?\s*template\s+"([^"]+)"\s+\.\s*-?\}\}/g, (all, name) => {
    if (!(name in known))
      throw new Error(`README.md.gotmpl: unknown template "${name}" (known: ${Object.keys(known)})`);
    return known[name];
  });
}

/** Both generated files' wanted content. */
export function generate(dir = CHART) {
  const values = readFileSync(join(dir, 'values.yaml'), 'utf8');
  return {
    'values.schema.json': buildSchema(values),
    'README.md': buildReadme(
      readFileSync(join(dir, 'README.md.gotmpl'), 'utf8'),
      readFileSync(join(dir, 'Chart.yaml'), 'utf8'),
      values,
    ),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const at = process.argv.indexOf('--chart');
  const dir = at > 0 ? process.argv[at + 1] : CHART;
  let stale = 0;
  let wanted;
  try {
    wanted = generate(dir);
  } catch (err) {
    process.stderr.write(`chart-docs: ${err.message}\n`);
    process.exit(1);
  }
  for (const [file, want] of Object.entries(wanted)) {
    const path = join(dir, file);
    let have = null;
    try {
      have = readFileSync(path, 'utf8');
    } catch {
      /* missing: stale */
    }
    if (have === want) continue;
    if (check) {
      process.stderr.write(`${path} is out of date: run \`node scripts/chart-docs.mjs\`\n`);
      stale++;
    } else {
      writeFileSync(path, want);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  process.exit(stale ? 1 : 0);
}
