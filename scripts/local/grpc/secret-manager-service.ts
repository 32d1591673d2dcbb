/**
 * google.cloud.secretmanager.v1.SecretManagerService over gRPC (AccessSecretVersion, and
 * GetSecret / ListSecretVersions, which `doctor` uses to see a secret is there without reading
 * it), the twin the real @google-cloud/secret-manager client talks to in tests: secrets with
 * versions, secrets created without one (as Terraform creates them), NOT_FOUND for unknown
 * ones, PERMISSION_DENIED for those marked so, and a count of accesses.
 */
import { grpc } from 'google-gax';
import { GrpcStatusError, loadService, serve, unary } from './proto';

export class LocalSecretManager {
  readonly accesses: string[] = [];
  private readonly secrets = new Map<string, string>();
  /** Secrets that exist without a version (Terraform creates the secret, not its value). */
  private readonly empty = new Set<string>();
  private readonly denied = new Set<string>();

  set(project: string, name: string, value: string): void {
    this.secrets.set(`projects/${project}/secrets/${name}`, value);
    this.empty.delete(`projects/${project}/secrets/${name}`);
  }

  /** A secret with no version yet. */
  create(project: string, name: string): void {
    if (!this.secrets.has(`projects/${project}/secrets/${name}`))
      this.empty.add(`projects/${project}/secrets/${name}`);
  }

  private exists(secret: string): boolean {
    if (this.denied.has(secret))
      throw new GrpcStatusError(
        grpc.status.PERMISSION_DENIED,
        `Permission 'secretmanager.secrets.get' denied for resource '${secret}' (or it may not exist).`,
      );
    return this.secrets.has(secret) || this.empty.has(secret);
  }

  /** GetSecret: the secret's metadata. */
  secret(name: string): { name: string } {
    if (!/^projects\/[^/]+\/secrets\/[^/]+$/.test(name))
      throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `Invalid resource name: ${name}`);
    if (!this.exists(name)) throw new GrpcStatusError(grpc.status.NOT_FOUND, `Secret [${name}] not found.`);
    return { name };
  }

  /** ListSecretVersions: version 1, ENABLED, for a secret with a value; none for one without. */
  versions(parent: string): { name: string; state: string }[] {
    this.secret(parent);
    return this.secrets.has(parent) ? [{ name: `${parent}/versions/1`, state: 'ENABLED' }] : [];
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
    GetSecret: unary(async (request: { name: string }) => manager.secret(request.name)),
    ListSecretVersions: unary(async (request: { parent: string; filter?: string }) => {
      const all = manager.versions(request.parent);
      const wanted = /state:(\w+)/.exec(request.filter ?? '')?.[1];
      return {
        versions: wanted ? all.filter((v) => v.state === wanted) : all,
        nextPageToken: '',
        totalSize: all.length,
      };
    }),
  });
}
