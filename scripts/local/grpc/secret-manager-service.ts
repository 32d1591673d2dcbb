/**
 * google.cloud.secretmanager.v1.SecretManagerService over gRPC (AccessSecretVersion only), the
 * twin the real @google-cloud/secret-manager client talks to in tests: secrets with versions,
 * NOT_FOUND for unknown ones, PERMISSION_DENIED for those marked so, and a count of accesses.
 */
import { grpc } from 'google-gax';
import { GrpcStatusError, loadService, serve, unary } from './proto';

export class LocalSecretManager {
  readonly accesses: string[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly denied = new Set<string>();

  set(project: string, name: string, value: string): void {
    this.secrets.set(`projects/${project}/secrets/${name}`, value);
  }

  deny(project: string, name: string): void {
    this.denied.add(`projects/${project}/secrets/${name}`);
  }

  access(resource: string): string {
    this.accesses.push(resource);
    const match = /^(projects\/[^/]+\/secrets\/[^/]+)\/versions\/(latest|\d+)$/.exec(resource);
    if (!match) throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `Invalid resource name: ${resource}`);
    const secret = match[1]!;
    if (this.denied.has(secret)) {
      throw new GrpcStatusError(
        grpc.status.PERMISSION_DENIED,
        `Permission 'secretmanager.versions.access' denied for resource '${resource}' (or it may not exist).`,
      );
    }
    const value = this.secrets.get(secret);
    if (value === undefined)
      throw new GrpcStatusError(grpc.status.NOT_FOUND, `Secret [${secret}] not found or has no versions.`);
    return value;
  }
}

export async function serveSecretManager(
  manager: LocalSecretManager,
): Promise<{ host: string; stop(): Promise<void> }> {
  const service = loadService(
    '@google-cloud/secret-manager',
    'google/cloud/secretmanager/v1/service.proto',
    'google.cloud.secretmanager.v1.SecretManagerService',
  );
  return serve(service, {
    AccessSecretVersion: unary(async (request: { name: string }) => ({
      name: request.name.replace(/latest$/, '1'),
      payload: { data: Buffer.from(manager.access(request.name), 'utf8') },
    })),
  });
}
