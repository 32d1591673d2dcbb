import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { grpc } from 'google-gax';

const require = createRequire(import.meta.url);

/** The protos directory a Google client library ships (build/protos). */
function protosOf(pkg: string): string {
  const main = require.resolve(pkg);
  const marker = `node_modules/${pkg}/`;
  const at = main.lastIndexOf(marker);
  if (at === -1) throw new Error(`cannot locate the ${pkg} package (resolved ${main})`);
  return join(main.slice(0, at + marker.length), 'build', 'protos');
}

/**
 * Loads a service definition from the .proto files the client library itself ships, with
 * the same options google-gax uses, so the twin and the client agree on every field.
 */
export function loadService(pkg: string, protoFile: string, servicePath: string): grpc.ServiceDefinition {
  const definition = loadSync(protoFile, {
    includeDirs: [protosOf(pkg), protosOf('google-gax')],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as Record<string, unknown>;
  let node: unknown = loaded;
  for (const part of servicePath.split('.')) node = (node as Record<string, unknown>)[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`${servicePath} was not found in ${protoFile}`);
  return service;
}

export type Unary<Req, Res> = (
  call: grpc.ServerUnaryCall<Req, Res>,
  callback: grpc.sendUnaryData<Res>,
) => void;

/** Wraps an async handler; a thrown GrpcStatusError becomes that status, anything else INTERNAL. */
export function unary<Req, Res>(handler: (request: Req) => Promise<Res>): Unary<Req, Res> {
  return (call, callback) => {
    handler(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => {
        const status = error instanceof GrpcStatusError ? error.code : grpc.status.INTERNAL;
        callback({
          code: status,
          details: error instanceof Error ? error.message : String(error),
          name: 'Error',
          message: '',
        });
      },
    );
  };
}

export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function unimplemented(method: string): Unary<unknown, unknown> {
  return (_call, callback) =>
    callback({
      code: grpc.status.UNIMPLEMENTED,
      details: `${method} is not implemented by the local twin`,
      name: 'Error',
      message: '',
    });
}

export async function serve(
  service: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
): Promise<{ host: string; stop(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(service, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2_000).unref();
      }),
  };
}

export function timestamp(iso: string | undefined): { seconds: string; nanos: number } | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}
