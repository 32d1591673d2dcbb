import { z } from 'zod';
import type { Route } from './router';

export const ErrorResponse = z.object({
  error: z.object({
    code: z.string().describe('machine-readable: invalid_request, not_found, conflict, payload_too_large, …'),
    message: z.string().describe('what went wrong and how to fix it'),
    details: z
      .unknown()
      .optional()
      .describe('for validation errors: a list of {field, row, column, rule, message}'),
  }),
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** OpenAPI 3.1 from the same route table and zod schemas that serve and validate requests. */
export function openApiDocument(
  routes: Route[],
  version: string,
  title = 'Arc Reactor API',
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/\{(\w+)\+\}/g, '{$1}');
    const parameters: Record<string, unknown>[] = [];
    for (const match of route.path.matchAll(/\{(\w+)\+?\}/g)) {
      parameters.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } });
    }
    if (route.query) {
      for (const [name, schema] of Object.entries(route.query.shape)) {
        const field = schema as z.ZodType;
        parameters.push({
          name,
          in: 'query',
          required: !field.safeParse(undefined).success,
          schema: jsonSchema(field, 'input'),
          ...(field.description ? { description: field.description } : {}),
        });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const response of route.responses) {
      responses[String(response.status)] = {
        description: response.description,
        ...(response.schema
          ? {
              content: {
                [response.contentType ?? 'application/json']: {
                  schema: jsonSchema(response.schema, 'output'),
                },
              },
            }
          : {}),
      };
    }
    responses.default = {
      description: 'An error: {error: {code, message, details}}',
      content: { 'application/json': { schema: jsonSchema(ErrorResponse, 'output') } },
    };
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      tags: route.tags,
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: !route.bodyOptional,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
      ...(route.auth ? {} : { security: [] }),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title,
      version,
      description:
        'Launch, watch and recover Nextflow pipelines on Google Cloud Batch. Every request is made as the ' +
        'user identified by Identity-Aware Proxy; errors are {error: {code, message, details}}.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        iap: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Goog-IAP-JWT-Assertion',
          description: 'Set by Identity-Aware Proxy',
        },
      },
    },
    security: [{ iap: [] }],
    paths,
  };
}
