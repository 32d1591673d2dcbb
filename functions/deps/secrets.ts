import { onFirstUse, secretManagerSdk } from '../adapters/google-sdks';
import { SecretManagerSecrets } from '../adapters/secret-manager-secrets';
import type { PlatformConfig } from '../config/platform';
import { emulatorEndpoint } from './platform';

/**
 * Secret Manager on GCP (or its twin); locally, without either, only the SECRET_<NAME>
 * overrides of the configuration's environment.
 */
export function createSecrets(
  config: PlatformConfig,
  env: Record<string, string | undefined> = config.secretOverrides,
): SecretManagerSecrets {
  const local = Boolean(config.firestore.emulatorHost || config.storageEmulatorHost);
  const client =
    config.emulators.secretManager || !local
      ? onFirstUse(
          () =>
            new (secretManagerSdk().SecretManagerServiceClient)({
              projectId: config.project,
              ...(config.emulators.secretManager ? emulatorEndpoint(config.emulators.secretManager) : {}),
            }),
        )
      : null;
  return new SecretManagerSecrets(client, config.project, env);
}
