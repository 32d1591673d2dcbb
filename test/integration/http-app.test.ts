/**
 * The reusable HTTP app (functions/http/app.ts) serving a module of its own under a base
 * path, as HAYSTACK's function will: typed query and path parameters, 404 for a parameter
 * the route refuses, and an OpenAPI document of what is mounted, nothing else.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FirestoreUserStore } from '../../functions/adapters/firestore-user-store';
import { Unlimited } from '../../functions/adapters/rate-limiters';
import { loadConfig } from '../../functions/config';
import { createFirestore, systemClock } from '../../functions/deps/platform';
import { createHttpApp } from '../../functions/http/app';
import { DevAuthenticator } from '../../functions/http/identity';
import { defineRoute } from '../../functions/http/router';
import { memoryLogger } from '../../functions/logging';
import { asUser, request } from '../helpers/api-server';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';

const db = createFirestore(
  loadConfig({
    GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-app'),
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
  }),
);
let server: Server;
let url: string;

const thingRoute = defineRoute({
  method: 'get',
  path: '/api/v1/things/{id}',
  summary: 'One thing',
  tags: ['things'],
  auth: true,
  params: z.object({ id: z.string().regex(/^hay-[a-z0-9]{12}$/) }),
  missing: (raw) => `Thing ${raw.id} was not found.`,
  query: z.strictObject({ n: z.coerce.number().int().min(0).optional() }),
  responses: [{ status: 200, description: 'the thing' }],
  // ctx.query.n is number | undefined and ctx.params.id a string: no casts.
  handler: async (ctx) => ({ body: { id: ctx.params.id, n: ctx.query.n ?? null, by: ctx.caller?.email } }),
});

beforeAll(async () => {
  const unlimited = new Unlimited();
  const handler = createHttpApp(
    {
      users: new FirestoreUserStore(db, 0),
      authenticator: new DevAuthenticator({
        mode: 'dev',
        devUser: undefined,
        adminEmails: [],
        audiences: [],
        jwksUrl: 'http://127.0.0.1:1/',
        hostedDomain: undefined,
      }),
      adminEmails: [],
      rateLimits: { launch: unlimited, haystack_launch: unlimited, chat: unlimited, read: unlimited },
      corsOrigins: [],
      logger: memoryLogger(),
      clock: systemClock,
      version: 'test',
    },
    [[thingRoute]],
    { basePath: '/api/v1', title: 'A second function' },
  );
  const app = express();
  app.use(express.json());
  app.all('/{*path}', (req, res) => void handler(req, res));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await db.terminate();
});

describe('the HTTP app with a module of its own under /api/v1', () => {
  const ALICE = asUser('alice@example.com');

  it('hands the route its parsed query and path parameters', async () => {
    const response = await request(`${url}/api/v1/things/hay-aaaaaaaaaaaa?n=2`, { headers: ALICE });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: 'hay-aaaaaaaaaaaa', n: 2, by: 'alice@example.com' });
  });

  it('answers 404 in its own words for a path parameter the route refuses, 400 for a bad query', async () => {
    const missing = await request<{ error: { message: string } }>(`${url}/api/v1/things/run-aaaaaaaaaaaa`, {
      headers: ALICE,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('Thing run-aaaaaaaaaaaa was not found.');
    const bad = await request(`${url}/api/v1/things/hay-aaaaaaaaaaaa?n=many`, { headers: ALICE });
    expect(bad.status).toBe(400);
  });

  it('describes only what it mounts, at its own base path, and serves nothing else', async () => {
    const doc = await request<{ info: { title: string }; paths: Record<string, unknown> }>(
      `${url}/api/v1/openapi.json`,
    );
    expect(doc.body.info.title).toBe('A second function');
    expect(Object.keys(doc.body.paths).sort()).toEqual(['/api/v1/openapi.json', '/api/v1/things/{id}']);
    expect((await request(`${url}/api/runs`, { headers: ALICE })).status).toBe(404);
  });
});
