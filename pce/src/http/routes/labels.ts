// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `/orgs/1/labels` and `/orgs/1/label_dimensions` (label keys). Labels take
 * effect at once (not provisionable). A label's key must be defined; one
 * label per (key, value); at most 20 keys; nothing in use can be deleted.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import {
  LabelDimensionWrite,
  LabelWrite,
  MAX_LABEL_KEYS,
  partialOf,
  type Label,
  type LabelDimension,
} from '../../api/policy-objects.js';
import { userOf } from '../plugins/auth.js';
import { byPrincipal, recordEvent } from '../events.js';
import {
  checkOrg,
  matchesText,
  MaxResults,
  ORG_PATH,
  OrgIdParams,
  OrgParams,
  refuseIfReferenced,
  sendCollection,
} from './common.js';

const LabelQuery = Type.Object({
  key: Type.Optional(Type.String()),
  value: Type.Optional(Type.String()),
  max_results: MaxResults,
});

const LabelPatch = partialOf(LabelWrite);

export async function labelRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;

  const keyDefined = async (key: string): Promise<boolean> =>
    (await store.db.selectFrom('label_dimensions').select('id').where('key', '=', key).executeTakeFirst()) !==
    undefined;

  app.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof LabelQuery> }>(
    `${ORG_PATH}/labels`,
    { schema: { params: OrgParams, querystring: LabelQuery, tags: ['labels'] } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { key, value } = req.query;
      const labels = (await store.listDocs<Label>('labels')).filter(
        (l) => (key === undefined || l.key === key) && matchesText(l.value, value),
      );
      return sendCollection(reply, labels, req.query.max_results);
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: LabelWrite }>(
    `${ORG_PATH}/labels`,
    { schema: { params: OrgParams, body: LabelWrite, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { key, value } = req.body;
      if (!(await keyDefined(key)))
        throw invalid(
          'key',
          `label key "${key}" is not defined; define it with POST /orgs/1/label_dimensions or use role, app, env or loc`,
        );
      const label = await store.tx(async (s) => {
        if (await s.findLabel(key, value))
          throw new BulkheadError('BH_ERR_API_CONFLICT', `value: a label ${key}=${value} already exists`);
        const id = String(await s.nextId('labels'));
        const at = new Date().toISOString();
        const created: Label = {
          href: `/orgs/1/labels/${id}`,
          key,
          value,
          external_data_set: req.body.external_data_set ?? null,
          external_data_reference: req.body.external_data_reference ?? null,
          created_at: at,
          updated_at: at,
          created_by: { href: userOf(req).userHref },
          updated_by: { href: userOf(req).userHref },
        };
        await s.insertDoc('labels', id, created, { key, value });
        return created;
      });
      return reply.status(201).send(label);
    },
  );

  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${ORG_PATH}/labels/:id`,
    { schema: { params: OrgIdParams, tags: ['labels'] } },
    async (req) => {
      checkOrg(req.params.org);
      const label = await store.getDoc<Label>('labels', req.params.id);
      if (!label) throw notFound(`label /orgs/1/labels/${req.params.id}`);
      return label;
    },
  );

  app.put<{ Params: Static<typeof OrgIdParams>; Body: Static<typeof LabelPatch> }>(
    `${ORG_PATH}/labels/:id`,
    { schema: { params: OrgIdParams, body: LabelPatch, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const label = await s.getDoc<Label>('labels', req.params.id);
        if (!label) throw notFound(`label /orgs/1/labels/${req.params.id}`);
        if (req.body.key !== undefined && req.body.key !== label.key)
          throw invalid('key', `a label's key cannot change (it is ${label.key}); create a new label instead`);
        const value = req.body.value ?? label.value;
        const other = await s.findLabel(label.key, value);
        if (other && other.id !== req.params.id)
          throw new BulkheadError('BH_ERR_API_CONFLICT', `value: a label ${label.key}=${value} already exists`);
        const updated: Label = {
          ...label,
          value,
          external_data_set:
            req.body.external_data_set !== undefined ? req.body.external_data_set : label.external_data_set,
          external_data_reference:
            req.body.external_data_reference !== undefined
              ? req.body.external_data_reference
              : label.external_data_reference,
          updated_at: new Date().toISOString(),
          updated_by: { href: userOf(req).userHref },
        };
        await s.updateDoc('labels', req.params.id, updated, { value });
      });
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: Static<typeof OrgIdParams> }>(
    `${ORG_PATH}/labels/:id`,
    { schema: { params: OrgIdParams, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const href = `/orgs/1/labels/${req.params.id}`;
      await store.tx(async (s) => {
        if (!(await s.getDoc('labels', req.params.id))) throw notFound(`label ${href}`);
        await refuseIfReferenced(s, href, 'label');
        await s.deleteDoc('labels', req.params.id);
      });
      await recordEvent(store, {
        event_type: 'label.delete',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href }, change_type: 'delete' }],
      });
      return reply.status(204).send();
    },
  );

  // ---------------------------------------------------------------- label dimensions

  const DimPatch = partialOf(LabelDimensionWrite);

  app.get<{ Params: Static<typeof OrgParams>; Querystring: { max_results?: number } }>(
    `${ORG_PATH}/label_dimensions`,
    { schema: { params: OrgParams, querystring: Type.Object({ max_results: MaxResults }), tags: ['labels'] } },
    async (req, reply) => {
      checkOrg(req.params.org);
      return sendCollection(reply, await store.listDocs<LabelDimension>('label_dimensions'), req.query.max_results);
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: LabelDimensionWrite }>(
    `${ORG_PATH}/label_dimensions`,
    { schema: { params: OrgParams, body: LabelDimensionWrite, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const dim = await store.tx(async (s) => {
        const all = await s.listDocs<LabelDimension>('label_dimensions');
        if (all.some((d) => d.key === req.body.key))
          throw new BulkheadError('BH_ERR_API_CONFLICT', `key: label key ${req.body.key} already exists`);
        if (all.length >= MAX_LABEL_KEYS)
          throw invalid('key', `an org has at most ${MAX_LABEL_KEYS} label keys; remove one first`);
        const at = new Date().toISOString();
        const created: LabelDimension = {
          href: `/orgs/1/label_dimensions/${req.body.key}`,
          key: req.body.key,
          display_name: req.body.display_name,
          display_info: req.body.display_info ?? {},
          created_at: at,
          updated_at: at,
        };
        await s.insertDoc('label_dimensions', req.body.key, created, { key: req.body.key });
        return created;
      });
      return reply.status(201).send(dim);
    },
  );

  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${ORG_PATH}/label_dimensions/:id`,
    { schema: { params: OrgIdParams, tags: ['labels'] } },
    async (req) => {
      checkOrg(req.params.org);
      const dim = await store.getDoc<LabelDimension>('label_dimensions', req.params.id);
      if (!dim) throw notFound(`label dimension /orgs/1/label_dimensions/${req.params.id}`);
      return dim;
    },
  );

  app.put<{ Params: Static<typeof OrgIdParams>; Body: Static<typeof DimPatch> }>(
    `${ORG_PATH}/label_dimensions/:id`,
    { schema: { params: OrgIdParams, body: DimPatch, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const dim = await s.getDoc<LabelDimension>('label_dimensions', req.params.id);
        if (!dim) throw notFound(`label dimension /orgs/1/label_dimensions/${req.params.id}`);
        if (req.body.key !== undefined && req.body.key !== dim.key)
          throw invalid('key', 'a label key cannot be renamed');
        await s.updateDoc('label_dimensions', req.params.id, {
          ...dim,
          display_name: req.body.display_name ?? dim.display_name,
          display_info: req.body.display_info ?? dim.display_info,
          updated_at: new Date().toISOString(),
        });
      });
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: Static<typeof OrgIdParams> }>(
    `${ORG_PATH}/label_dimensions/:id`,
    { schema: { params: OrgIdParams, tags: ['labels'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const dim = await s.getDoc<LabelDimension>('label_dimensions', req.params.id);
        if (!dim) throw notFound(`label dimension /orgs/1/label_dimensions/${req.params.id}`);
        if (['role', 'app', 'env', 'loc'].includes(dim.key))
          throw invalid('key', `${dim.key} is built in and cannot be deleted`);
        const used = (await s.listDocs<Label>('labels')).filter((l) => l.key === dim.key);
        if (used.length > 0)
          throw new BulkheadError(
            'BH_ERR_API_IN_USE',
            `label key ${dim.key} has ${used.length} label(s): ${used
              .slice(0, 10)
              .map((l) => l.href)
              .join(', ')}; delete them first`,
          );
        await s.deleteDoc('label_dimensions', req.params.id);
      });
      return reply.status(204).send();
    },
  );
}
