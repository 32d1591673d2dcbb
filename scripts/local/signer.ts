import { generateKeyPairSync } from 'node:crypto';

/** A service-account-like key for the local stack: functions sign download links with it, the GCS server verifies them. */
export function localSigner(project: string): {
  credentials: { client_email: string; private_key: string };
  publicKey: string;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    credentials: {
      client_email: `arc-local-signer@${project}.iam.gserviceaccount.com`,
      private_key: privateKey,
    },
    publicKey,
  };
}
