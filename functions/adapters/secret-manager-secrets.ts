import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { UpstreamError } from '../core/shared/errors';
import type { Secrets } from '../core/shared/ports';
import { GrpcCode, grpcCodeOf } from './grpc-status';

const SECRET_NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** `SECRET_<NAME>` (upper case, `-` as `_`) overrides a secret locally. */
export function overrideVariable(name: string): string {
  return `SECRET_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Secret Manager (`projects/{p}/secrets/{name}/versions/latest`), each secret fetched once per
 * instance and kept in memory; an environment override wins. A failed fetch is not cached.
 */
export class SecretManagerSecrets implements Secrets {
  private readonly values = new Map<string, Promise<string>>();
  private readonly resolved = new Set<string>();

  constructor(
    private readonly client: Pick<SecretManagerServiceClient, 'accessSecretVersion'> | null,
    private readonly project: string,
    private readonly env: Record<string, string | undefined>,
  ) {}

  get(name: string): Promise<string> {
    if (!SECRET_NAME.test(name)) return Promise.reject(new Error(`"${name}" is not a secret name.`));
    let value = this.values.get(name);
    if (!value) {
      value = this.fetch(name).then((secret) => {
        if (secret.length >= 4) this.resolved.add(secret);
        return secret;
      });
      value.catch(() => this.values.delete(name));
      this.values.set(name, value);
    }
    return value;
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.resolved) out = out.split(secret).join('[redacted]');
    return out;
  }

  private async fetch(name: string): Promise<string> {
    const override = this.env[overrideVariable(name)];
    if (override !== undefined) return override;
    if (!this.client) {
      throw new UpstreamError(
        `Secret ${name} is not available: set ${overrideVariable(name)} locally, or create it in Secret Manager.`,
      );
    }
    const resource = `projects/${this.project}/secrets/${name}/versions/latest`;
    try {
      const [version] = await this.client.accessSecretVersion({ name: resource });
      const data = version.payload?.data;
      if (data === undefined || data === null) throw new UpstreamError(`Secret ${name} has no value.`);
      return typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    } catch (error) {
      const code = grpcCodeOf(error);
      if (code === GrpcCode.NOT_FOUND) {
        throw new UpstreamError(
          `Secret ${name} does not exist in project ${this.project} (or has no enabled version): create it with gcloud secrets create ${name} --data-file=-.`,
        );
      }
      if (code === GrpcCode.PERMISSION_DENIED) {
        throw new UpstreamError(
          `The functions' service account may not read secret ${name}: grant it roles/secretmanager.secretAccessor on that secret.`,
        );
      }
      if (error instanceof UpstreamError) throw error;
      throw new UpstreamError(
        `Secret ${name} could not be read from Secret Manager (gRPC code ${code ?? 'unknown'}).`,
      );
    }
  }
}

/** A readiness check that the named secrets resolve; it reports names, never values. */
export function secretsReadiness(secrets: Secrets, names: string[]) {
  return {
    name: 'secrets',
    async check(): Promise<void> {
      const failures: string[] = [];
      await Promise.all(
        names.map((name) =>
          secrets.get(name).then(
            () => undefined,
            () => failures.push(name),
          ),
        ),
      );
      // Our own words (names, never values), so /api/ready may show them.
      if (failures.length > 0)
        throw new UpstreamError(`secrets not available: ${failures.sort().join(', ')}`);
    },
  };
}
