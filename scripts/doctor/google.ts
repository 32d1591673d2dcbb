/**
 * What a deployment holds, read with Google's own APIs (or, locally, their twins): Eventarc's
 * triggers and the deployed workflow through their REST APIs (the npm registry has no Eventarc
 * client, and @google-cloud/workflows carries only the executions client), secrets' metadata
 * (@google-cloud/secret-manager; values never read) and the runs bucket's lifecycle
 * (@google-cloud/storage).
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { GoogleAuth } from 'google-auth-library';
import type { Config } from '../../functions/config';
import { createStorage, emulatorEndpoint } from '../../functions/deps/platform';
import type { EventarcTrigger } from '../local/eventarc/twin';
import type { DeployedFunction, LifecycleRule } from './checks';

const NOT_FOUND = 5;
const TIMEOUT_MS = 15_000;

export interface DeploymentReader {
  triggers(): Promise<EventarcTrigger[]>;
  workflow(): Promise<{ sourceContents: string; state: string; revisionId: string } | null>;
  secret(name: string): Promise<{ exists: boolean; enabledVersions: number }>;
  lifecycle(): Promise<LifecycleRule[] | null>;
  functions(names: string[]): Promise<Record<string, DeployedFunction | null>>;
  backendServices(names: string[]): Promise<Record<string, { iap?: { enabled: boolean } } | null>>;
  firestoreRules(): Promise<string | null>;
  firestoreIndexes(): Promise<{ name: string; state: string }[]>;
  batch(): Promise<{ ok: true } | { ok: false; reason: string }>;
  close(): Promise<void>;
}

/**
 * Where the REST APIs are: Google's, or local twins (EVENTARC_EMULATOR_URL,
 * WORKFLOWS_REST_EMULATOR_URL, and GOOGLE_APIS_EMULATOR_URL for Cloud Functions, Compute, the
 * Firebase Rules API, Firestore's admin API and Batch).
 */
export interface RestEndpoints {
  eventarc?: string;
  workflows?: string;
  googleApis?: string;
}

export function googleDeployment(config: Config, endpoints: RestEndpoints = {}): DeploymentReader {
  const secrets = new SecretManagerServiceClient({
    projectId: config.project,
    ...(config.emulators.secretManager ? emulatorEndpoint(config.emulators.secretManager) : {}),
  });
  const storage = createStorage(config);
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  const local = Boolean(endpoints.eventarc ?? endpoints.workflows ?? endpoints.googleApis);
  const api = (host: string) => endpoints.googleApis ?? `https://${host}`;
  const token = async () => (local ? 'local' : ((await auth.getAccessToken()) ?? ''));
  /** GET of a Google REST resource; null for 404, Google's error message otherwise. */
  const get = async <T>(url: URL): Promise<T | null> => {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${await token()}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (response.status === 404) return null;
    const body = (await response.json()) as T & { error?: { status: string; message: string } };
    if (!response.ok)
      throw new Error(
        `${url.host} answered ${response.status} ${body.error?.status ?? ''}: ${body.error?.message ?? ''}`,
      );
    return body;
  };

  return {
    async triggers() {
      const all: EventarcTrigger[] = [];
      let pageToken = '';
      do {
        const url = new URL(
          `/v1/projects/${config.project}/locations/${config.region}/triggers`,
          endpoints.eventarc ?? 'https://eventarc.googleapis.com',
        );
        if (pageToken) url.searchParams.set('pageToken', pageToken);
        const body = await get<{ triggers?: EventarcTrigger[]; nextPageToken?: string }>(url);
        all.push(...(body?.triggers ?? []));
        pageToken = body?.nextPageToken ?? '';
      } while (pageToken);
      return all;
    },
    async workflow() {
      const workflow = await get<{ sourceContents?: string; state?: string; revisionId?: string }>(
        new URL(`/v1/${config.workflow.parent}`, endpoints.workflows ?? 'https://workflows.googleapis.com'),
      );
      return workflow
        ? {
            sourceContents: workflow.sourceContents ?? '',
            state: workflow.state ?? 'STATE_UNSPECIFIED',
            revisionId: workflow.revisionId ?? '',
          }
        : null;
    },
    async secret(name) {
      const secret = `projects/${config.project}/secrets/${name}`;
      try {
        await secrets.getSecret({ name: secret }, { timeout: TIMEOUT_MS });
      } catch (error) {
        if ((error as { code?: number }).code === NOT_FOUND) return { exists: false, enabledVersions: 0 };
        throw error;
      }
      const [versions] = await secrets.listSecretVersions(
        { parent: secret, filter: 'state:ENABLED' },
        { timeout: TIMEOUT_MS, autoPaginate: true },
      );
      return { exists: true, enabledVersions: versions.length };
    },
    async lifecycle() {
      try {
        const [metadata] = await storage.bucket(config.runsBucket).getMetadata();
        return (metadata.lifecycle?.rule ?? []) as LifecycleRule[];
      } catch (error) {
        if ((error as { code?: number }).code === 404) return null;
        throw error;
      }
    },
    async functions(names) {
      const base = api('cloudfunctions.googleapis.com');
      const entries = await Promise.all(
        names.map(async (name) => [
          name,
          await get<DeployedFunction>(
            new URL(`/v2/projects/${config.project}/locations/${config.region}/functions/${name}`, base),
          ),
        ]),
      );
      return Object.fromEntries(entries) as Record<string, DeployedFunction | null>;
    },
    async backendServices(names) {
      const base = api('compute.googleapis.com');
      const entries = await Promise.all(
        names.map(async (name) => [
          name,
          await get<{ iap?: { enabled: boolean } }>(
            new URL(`/compute/v1/projects/${config.project}/global/backendServices/${name}`, base),
          ),
        ]),
      );
      return Object.fromEntries(entries) as Record<string, { iap?: { enabled: boolean } } | null>;
    },
    async firestoreRules() {
      const base = api('firebaserules.googleapis.com');
      const release = await get<{ rulesetName: string }>(
        new URL(`/v1/projects/${config.project}/releases/cloud.firestore`, base),
      );
      if (!release) return null;
      const ruleset = await get<{ source?: { files?: { content: string }[] } }>(
        new URL(`/v1/${release.rulesetName}`, base),
      );
      return ruleset?.source?.files?.map((f) => f.content).join('\n') ?? null;
    },
    async firestoreIndexes() {
      const all: { name: string; state: string }[] = [];
      let pageToken = '';
      do {
        const url = new URL(
          `/v1/projects/${config.project}/databases/${encodeURIComponent(config.firestore.databaseId)}/collectionGroups/-/indexes`,
          api('firestore.googleapis.com'),
        );
        if (pageToken) url.searchParams.set('pageToken', pageToken);
        const body = await get<{ indexes?: { name: string; state: string }[]; nextPageToken?: string }>(url);
        all.push(...(body?.indexes ?? []));
        pageToken = body?.nextPageToken ?? '';
      } while (pageToken);
      return all;
    },
    async batch() {
      const url = new URL(
        `/v1/projects/${config.project}/locations/${config.region}/jobs`,
        api('batch.googleapis.com'),
      );
      url.searchParams.set('pageSize', '1');
      try {
        return (await get(url)) === null
          ? { ok: false, reason: 'the API answers 404 in this region' }
          : { ok: true };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
    async close() {
      await secrets.close();
    },
  };
}
