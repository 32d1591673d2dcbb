/**
 * What `doctor` concludes from what a deployment holds: one line per check, each failure with
 * its fix. Pure: the state is read by ./google.ts.
 */
import { createHash } from 'node:crypto';
import type { EventarcTrigger } from '../local/eventarc/twin';

export type Outcome = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  outcome: Outcome;
  detail: string;
  /** What to do about it (absent when ok). */
  fix?: string;
}

const APPLY = 'run `npm run deploy` (or `terraform apply` in infra/) to put it back';

/** An event function and the trigger it must have (infra/main.tf's event_functions). */
export interface ExpectedTrigger {
  fn: string;
  eventType: string;
  /** Pub/Sub triggers: the topic's full name. */
  topic?: string;
  /** Storage triggers: the bucket filter. */
  bucket?: string;
}

export function expectedTriggers(settings: {
  project: string;
  runsBucket: string;
  batchEventsTopic: string;
  runEventsTopic: string;
}): ExpectedTrigger[] {
  const published = 'google.cloud.pubsub.topic.v1.messagePublished';
  return [
    {
      fn: 'onBatchJobEvent',
      eventType: published,
      topic: `projects/${settings.project}/topics/${settings.batchEventsTopic}`,
    },
    {
      fn: 'onRunArtifact',
      eventType: 'google.cloud.storage.object.v1.finalized',
      bucket: settings.runsBucket,
    },
    {
      fn: 'onRunEvent',
      eventType: published,
      topic: `projects/${settings.project}/topics/${settings.runEventsTopic}`,
    },
  ];
}

const filter = (trigger: EventarcTrigger, attribute: string) =>
  trigger.eventFilters.find((f) => f.attribute === attribute)?.value;

export function checkTriggers(expected: ExpectedTrigger[], triggers: EventarcTrigger[]): Check[] {
  return expected.map((want): Check => {
    const name = `trigger ${want.fn}`;
    // Cloud Functions names the trigger after the function; the destination is its Cloud Run service.
    const mine = triggers.filter((t) => t.destination.cloudRun?.service === want.fn.toLowerCase());
    if (mine.length === 0)
      return {
        name,
        outcome: 'fail',
        detail: `no Eventarc trigger delivers to ${want.fn}, so its events are never handled (the sweeper settles runs late)`,
        fix: APPLY,
      };
    const trigger = mine[0]!;
    const problems: string[] = [];
    if (filter(trigger, 'type') !== want.eventType)
      problems.push(`event type ${filter(trigger, 'type') ?? 'none'}, not ${want.eventType}`);
    if (want.topic && trigger.transport?.pubsub?.topic !== want.topic)
      problems.push(`topic ${trigger.transport?.pubsub?.topic ?? 'none'}, not ${want.topic}`);
    if (want.bucket && filter(trigger, 'bucket') !== want.bucket)
      problems.push(`bucket ${filter(trigger, 'bucket') ?? 'none'}, not ${want.bucket}`);
    const conditions = Object.entries(trigger.conditions ?? {}).filter(([, c]) => c.code && c.code !== 'OK');
    for (const [key, condition] of conditions)
      problems.push(`not active: ${key} ${condition.code} (${condition.message})`);
    return problems.length === 0
      ? { name, outcome: 'ok', detail: `${trigger.name.split('/').pop()} → ${want.fn}, active` }
      : { name, outcome: 'fail', detail: problems.join('; '), fix: APPLY };
  });
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function checkWorkflow(
  name: string,
  deployed: { sourceContents: string; state: string; revisionId: string } | null,
  local: string,
): Check {
  const check = `workflow ${name}`;
  if (!deployed)
    return { name: check, outcome: 'fail', detail: 'not deployed: no run can start', fix: APPLY };
  if (deployed.state !== 'ACTIVE')
    return { name: check, outcome: 'fail', detail: `state ${deployed.state}`, fix: APPLY };
  const [want, have] = [sha256(local), sha256(deployed.sourceContents)];
  return want === have
    ? {
        name: check,
        outcome: 'ok',
        detail: `revision ${deployed.revisionId} matches workflows/ (sha256 ${want.slice(0, 12)})`,
      }
    : {
        name: check,
        outcome: 'fail',
        detail: `revision ${deployed.revisionId} is not workflows/run-pipeline.workflows.yaml (deployed sha256 ${have.slice(0, 12)}, here ${want.slice(0, 12)}): runs use an old definition`,
        fix: APPLY,
      };
}

export interface SecretState {
  secret: string;
  /** What has no use without it. */
  purpose: string;
  /** A missing value stops the platform (fail) or only turns a feature off (warn). */
  required: boolean;
  exists: boolean;
  enabledVersions: number;
}

/** Whether each secret is there with a value; values are never read. */
export function checkSecrets(states: SecretState[]): Check[] {
  return states.map((s): Check => {
    const name = `secret ${s.secret}`;
    const add = `gcloud secrets versions add ${s.secret} --data-file=- (paste the value, then Ctrl-D)`;
    if (!s.exists)
      return { name, outcome: 'fail', detail: `missing (${s.purpose})`, fix: `${APPLY}, then ${add}` };
    if (s.enabledVersions === 0)
      return {
        name,
        outcome: s.required ? 'fail' : 'warn',
        detail: `has no value yet: ${s.purpose} is off`,
        fix: add,
      };
    return {
      name,
      outcome: 'ok',
      detail: `present (${s.enabledVersions} enabled version${s.enabledVersions === 1 ? '' : 's'}; not read)`,
    };
  });
}

/** A bucket lifecycle rule as Cloud Storage's JSON API describes it (the fields doctor reads). */
export interface LifecycleRule {
  action?: { type?: string };
  condition?: { age?: number; matchesPrefix?: string[] };
}

/** Work dirs and caches are deleted after the retention the functions assume (ARCHITECTURE §4). */
export function checkLifecycle(bucket: string, rules: LifecycleRule[] | null, retentionDays: number): Check {
  const name = `bucket ${bucket} lifecycle`;
  if (rules === null) return { name, outcome: 'fail', detail: 'the bucket does not exist', fix: APPLY };
  const rule = rules.find(
    (r) =>
      r.action?.type === 'Delete' &&
      ['work/', 'cache/'].every((p) => r.condition?.matchesPrefix?.includes(p)),
  );
  if (!rule)
    return {
      name,
      outcome: 'fail',
      detail: 'no rule deletes work/ and cache/: Nextflow work dirs are kept (and paid for) forever',
      fix: APPLY,
    };
  if (rule.condition?.age !== retentionDays)
    return {
      name,
      outcome: 'fail',
      detail: `work dirs are deleted after ${rule.condition?.age} days, but the functions say runs resume for ${retentionDays} (WORK_RETENTION_DAYS)`,
      fix: `set work_retention_days and WORK_RETENTION_DAYS alike, then ${APPLY}`,
    };
  return { name, outcome: 'ok', detail: `work/ and cache/ deleted after ${retentionDays} days` };
}

/** One line per check, the fix beneath a failure; what the terminal shows. */
export function report(checks: Check[]): string {
  const mark = { ok: '✓', warn: '!', fail: '✗' } as const;
  const lines = checks.map(
    (c) => `${mark[c.outcome]} ${c.name}: ${c.detail}${c.fix ? `\n    fix: ${c.fix}` : ''}`,
  );
  const failed = checks.filter((c) => c.outcome === 'fail').length;
  const warned = checks.filter((c) => c.outcome === 'warn').length;
  lines.push(
    failed === 0
      ? `All ${checks.length} checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}.`
      : `${failed} of ${checks.length} checks failed.`,
  );
  return lines.join('\n');
}

/** A deployed function as Cloud Functions v2 describes it (the fields doctor reads). */
export interface DeployedFunction {
  state: string;
  labels?: Record<string, string>;
  serviceConfig?: { ingressSettings?: string };
}

/**
 * Each function the build makes is deployed, active, of this release (the `arc-release` label
 * Terraform sets from the deploy's tag), and reachable only as it should be: the frontends
 * through the load balancer, the event functions from inside Google.
 */
export function checkFunctions(
  deployed: Record<string, DeployedFunction | null>,
  expected: { frontends: string[]; events: string[]; release: string | null },
): Check[] {
  return Object.entries(deployed).map(([fn, found]): Check => {
    const name = `function ${fn}`;
    if (!found) return { name, outcome: 'fail', detail: 'not deployed', fix: APPLY };
    const problems: string[] = [];
    if (found.state !== 'ACTIVE') problems.push(`state ${found.state}`);
    const release = found.labels?.['arc-release'];
    if (expected.release && release !== expected.release)
      problems.push(`release ${release ?? 'unlabelled'}, not ${expected.release} (this checkout)`);
    const ingress = found.serviceConfig?.ingressSettings;
    const wanted = expected.frontends.includes(fn)
      ? 'ALLOW_INTERNAL_AND_GCLB'
      : expected.events.includes(fn)
        ? 'ALLOW_INTERNAL_ONLY'
        : null;
    if (wanted && ingress !== wanted) problems.push(`ingress ${ingress ?? 'unset'}, not ${wanted}`);
    return problems.length === 0
      ? {
          name,
          outcome: 'ok',
          detail: `active${release ? `, release ${release}` : ''}${ingress ? `, ${ingress}` : ''}`,
        }
      : { name, outcome: 'fail', detail: problems.join('; '), fix: APPLY };
  });
}

/** IAP is on for each backend the load balancer sends users to. */
export function checkIap(backends: Record<string, { iap?: { enabled: boolean } } | null>): Check[] {
  return Object.entries(backends).map(([backend, found]): Check => {
    const name = `IAP on ${backend}`;
    if (!found) return { name, outcome: 'fail', detail: 'the backend service does not exist', fix: APPLY };
    return found.iap?.enabled
      ? { name, outcome: 'ok', detail: 'on' }
      : {
          name,
          outcome: 'fail',
          detail:
            'IAP is off: anyone who reaches the load balancer reaches the functions unauthenticated (they answer 401)',
          fix: APPLY,
        };
  });
}

/** The Firestore rules in force are infra/firestore.rules. */
export function checkRules(deployed: string | null, local: string): Check {
  const name = 'Firestore rules';
  if (deployed === null)
    return { name, outcome: 'fail', detail: 'no rules released: the page reads nothing', fix: APPLY };
  return sha256(deployed) === sha256(local)
    ? { name, outcome: 'ok', detail: `infra/firestore.rules in force (sha256 ${sha256(local).slice(0, 12)})` }
    : { name, outcome: 'fail', detail: 'the rules in force are not infra/firestore.rules', fix: APPLY };
}

/** Each collection has the composite indexes infra/ declares, all READY. */
export function checkIndexes(
  declared: Record<string, number>,
  deployed: { name: string; state: string }[],
): Check[] {
  const byCollection = new Map<string, { ready: number; building: number }>();
  for (const index of deployed) {
    const collection = /collectionGroups\/([^/]+)\/indexes/.exec(index.name)?.[1] ?? '?';
    const counts = byCollection.get(collection) ?? { ready: 0, building: 0 };
    if (index.state === 'READY') counts.ready++;
    else counts.building++;
    byCollection.set(collection, counts);
  }
  return Object.entries(declared).map(([collection, want]): Check => {
    const name = `Firestore indexes on ${collection}`;
    const have = byCollection.get(collection) ?? { ready: 0, building: 0 };
    if (have.ready >= want) return { name, outcome: 'ok', detail: `${have.ready} ready (${want} declared)` };
    if (have.ready + have.building >= want)
      return {
        name,
        outcome: 'warn',
        detail: `${have.building} still building: the lists they serve answer 503 until they are ready`,
        fix: 'wait (an index builds in minutes), then run doctor again',
      };
    return {
      name,
      outcome: 'fail',
      detail: `${have.ready} of ${want} declared indexes exist: the queries that need the others fail`,
      fix: APPLY,
    };
  });
}

/** Batch answers in the region (its API is on and the region runs Batch). */
export function checkBatch(region: string, answer: { ok: true } | { ok: false; reason: string }): Check {
  const name = `Batch in ${region}`;
  return answer.ok
    ? { name, outcome: 'ok', detail: 'the API answers in the region' }
    : {
        name,
        outcome: 'fail',
        detail: `Batch does not answer: ${answer.reason}`,
        fix: 'enable batch.googleapis.com (npm run deploy does) and pick a region Batch runs in (--region)',
      };
}
