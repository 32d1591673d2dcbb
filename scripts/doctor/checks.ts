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

interface LifecycleRule {
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
