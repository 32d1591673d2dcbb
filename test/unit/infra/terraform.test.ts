/**
 * The Terraform in infra/, checked without providers (they cannot be downloaded here, so
 * `terraform validate` cannot run): `terraform fmt -check`, then the HCL parsed by HashiCorp's
 * own parser (@cdktn/hcl2json, HCL compiled to WebAssembly) and its wiring asserted against the
 * code it deploys — the variables the functions need, the functions the build makes, the log
 * lines the alerts key on.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktn/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, REQUIRED_ON_CLOUD } from '../../../functions/config';
import { assistantEnv } from '../../../functions/config/assistant';
import { runsEnv } from '../../../functions/config/runs';
import { FUNCTIONS } from '../../../scripts/build';
import { expectedTriggers } from '../../../scripts/doctor/checks';

const INFRA = join(process.cwd(), 'infra');
type Block = Record<string, unknown>;
interface Terraform {
  resource: Record<string, Record<string, Block[]>>;
  variable: Record<string, Block[]>;
  output: Record<string, Block[]>;
  locals: Block[];
}

let tf: Terraform;
let text: string;

beforeAll(async () => {
  tf = { resource: {}, variable: {}, output: {}, locals: [] };
  const files = readdirSync(INFRA).filter((f) => f.endsWith('.tf'));
  text = files.map((f) => readFileSync(join(INFRA, f), 'utf8')).join('\n');
  for (const file of files) {
    const parsed = (await parse(file, readFileSync(join(INFRA, file), 'utf8'))) as Partial<Terraform>;
    for (const [type, byName] of Object.entries(parsed.resource ?? {}))
      tf.resource[type] = { ...tf.resource[type], ...byName };
    Object.assign(tf.variable, parsed.variable);
    Object.assign(tf.output, parsed.output);
    tf.locals.push(...(parsed.locals ?? []));
  }
});

const resource = (type: string, name: string): Block => {
  const block = tf.resource[type]?.[name]?.[0];
  if (!block) throw new Error(`infra/ has no resource ${type}.${name}`);
  return block;
};
const local = <T>(name: string): T => {
  const found = tf.locals.find((l) => name in l);
  if (!found) throw new Error(`infra/ has no local ${name}`);
  return found[name] as T;
};
const first = (block: Block, key: string): Block => (block[key] as Block[])[0]!;
/** A Terraform expression as the parser writes it: `${…}`. */
const ref = (expression: string) => `\${${expression}}`;

describe('the Terraform in infra/', () => {
  it('is formatted as `terraform fmt` writes it', () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-no-color', INFRA], {
      encoding: 'utf8',
    });
    if (fmt.error)
      throw new Error(
        `terraform is not installed (${fmt.error.message}): install Terraform 1.6 or newer (https://developer.hashicorp.com/terraform/install).`,
      );
    expect(fmt.status, `terraform fmt would change: ${fmt.stdout}`).toBe(0);
  });

  it('gives every function each variable the functions need on Google Cloud, and only variables they read', () => {
    const env = local<Record<string, string>>('common_env');
    for (const name of REQUIRED_ON_CLOUD) expect(Object.keys(env), name).toContain(name);
    const unknown = Object.keys(env).filter((name) => !CONFIG_VARIABLES.includes(name));
    expect(unknown, 'set in Terraform but read by no function (a typo?)').toEqual([]);
    // Each function gets the common environment, whatever it adds.
    for (const kind of ['http', 'event']) {
      const config = first(resource('google_cloudfunctions2_function', kind), 'service_config');
      expect(String(config.environment_variables), kind).toMatch(/^\$\{merge\(local\.common_env,/);
    }
    // Identity is verified in production, against the load balancer's backends.
    expect(env.AUTH_MODE).toBe('iap');
    expect(env.IAP_AUDIENCE).toContain('google_compute_backend_service.frontend');
    expect(env.IAP_AUDIENCE).toContain(`/global/backendServices/${ref('backend.generated_id')}`);
  });

  it('deploys every function the build makes, each with its own bundle, and no other', () => {
    const http = local<Record<string, { entry: string }>>('http_functions');
    const events = local<Record<string, unknown>>('event_functions');
    expect([...Object.keys(http), ...Object.keys(events)].sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const [name, fn] of Object.entries(http)) expect(fn.entry, name).toBe(name);
    expect(text).toContain(`source_dir  = "${ref('var.functions_source_dir')}/${ref('each.key')}"`);
  });

  it('points every event trigger at a topic or bucket that exists, with the event type its handler parses', () => {
    const events =
      local<Record<string, { event_type: string; topic: string | null; filters: Block }>>('event_functions');
    const topics = Object.keys(tf.resource.google_pubsub_topic ?? {});
    for (const [name, trigger] of Object.entries(events)) {
      if (trigger.event_type === 'google.cloud.pubsub.topic.v1.messagePublished') {
        const topic = /^\$\{google_pubsub_topic\.([a-z_]+)\.id\}$/.exec(String(trigger.topic))?.[1];
        expect(topics, `${name}'s topic`).toContain(topic);
      } else {
        expect(trigger.event_type, name).toBe('google.cloud.storage.object.v1.finalized');
        expect(trigger.filters, name).toEqual({ bucket: ref('var.runs_bucket') });
      }
    }
    // What `npm run doctor` expects to find deployed is what Terraform deploys.
    const expected = expectedTriggers({
      project: 'p',
      runsBucket: 'b',
      batchEventsTopic: 't',
      runEventsTopic: 'r',
    });
    expect(Object.fromEntries(expected.map((e) => [e.fn, e.eventType]))).toEqual(
      Object.fromEntries(Object.entries(events).map(([name, e]) => [name, e.event_type])),
    );
    expect(events.onBatchJobEvent!.topic).toBe(ref('google_pubsub_topic.batch_events.id'));
    expect(events.onRunEvent!.topic).toBe(ref('google_pubsub_topic.run_events.id'));
  });

  it('lets no one call a function around IAP: no public invoker, frontends only through the load balancer', () => {
    expect(text).not.toMatch(/allUsers|allAuthenticatedUsers/);
    const http = local<Record<string, { public: boolean; invoker: string | null }>>('http_functions');
    const frontends = local<Record<string, string>>('frontends');
    const publicOnes = Object.entries(http)
      .filter(([, fn]) => fn.public)
      .map(([name]) => name);
    expect(publicOnes.sort()).toEqual(Object.values(frontends).sort());
    for (const [name, fn] of Object.entries(http))
      if (!fn.public) expect(['workflows', 'scheduler'], `${name}'s invoker`).toContain(fn.invoker);
    const httpConfig = first(resource('google_cloudfunctions2_function', 'http'), 'service_config');
    expect(httpConfig.ingress_settings).toBe(
      ref('each.value.public ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"'),
    );
    const eventConfig = first(resource('google_cloudfunctions2_function', 'event'), 'service_config');
    expect(eventConfig.ingress_settings).toBe('ALLOW_INTERNAL_ONLY');
    // The frontends' one invoker is IAP's service agent.
    const iapInvoker = resource('google_cloud_run_service_iam_member', 'iap_invokes_frontends');
    expect(iapInvoker.role).toBe('roles/run.invoker');
    expect(iapInvoker.member).toBe(ref('local.iap_service_agent'));
    expect(local<string>('iap_service_agent')).toMatch(/@gcp-sa-iap\.iam\.gserviceaccount\.com$/);
  });

  it('sizes the functions to the capacity model: concurrency with a whole vCPU, a warm api, live views that fit', () => {
    interface Sizing {
      concurrency: number;
      cpu: string;
      memory: string;
      min_instances: number | string;
      max_instances: number | string;
    }
    const http = local<Record<string, Sizing>>('http_functions');
    const events = local<Sizing>('event_function_sizing');
    for (const [name, fn] of Object.entries({ ...http, events })) {
      expect(fn.concurrency, name).toBeGreaterThanOrEqual(1);
      // Cloud Run serves more than one request at a time only with at least one vCPU.
      if (fn.concurrency > 1) expect(Number(fn.cpu), `${name}'s cpu`).toBeGreaterThanOrEqual(1);
    }
    // The api serves the lab: many requests at once per instance, one instance kept warm.
    expect(http.api!.concurrency).toBeGreaterThanOrEqual(80);
    expect(http.api!.min_instances).toBe(ref('var.api_min_instances'));
    expect(tf.variable.api_min_instances![0]!.default).toBeGreaterThanOrEqual(1);
    expect(http.api!.max_instances).toBe(ref('var.api_max_instances'));
    // The resources read what the locals say.
    const httpConfig = first(resource('google_cloudfunctions2_function', 'http'), 'service_config');
    expect(httpConfig).toMatchObject({
      max_instance_request_concurrency: ref('each.value.concurrency'),
      available_cpu: ref('each.value.cpu'),
      available_memory: ref('each.value.memory'),
      min_instance_count: ref('each.value.min_instances'),
      max_instance_count: ref('each.value.max_instances'),
    });
    const eventConfig = first(resource('google_cloudfunctions2_function', 'event'), 'service_config');
    expect(eventConfig.max_instance_request_concurrency).toBe(ref('local.event_function_sizing.concurrency'));
    // Live views leave the api room for requests, and end (like a chat turn) inside its timeout.
    const runs = runsEnv.parse({});
    expect(runs.SSE_STREAMS_PER_INSTANCE).toBeLessThan(http.api!.concurrency);
    const timeout = httpConfig.timeout_seconds as number;
    expect(runsEnv.shape.SSE_MAX_SECONDS.safeParse(String(timeout)).success).toBe(false);
    expect(runs.SSE_MAX_SECONDS).toBeLessThan(timeout);
    const assistant = assistantEnv.parse({});
    expect(assistant.ASSISTANT_TURN_DEADLINE_SECONDS).toBeLessThan(timeout);
    expect(assistantEnv.shape.ASSISTANT_TURN_DEADLINE_SECONDS.safeParse(String(timeout)).success).toBe(false);
  });

  it('labels every function with the release doctor checks, and names the backends as doctor reads them', () => {
    for (const kind of ['http', 'event'])
      expect(resource('google_cloudfunctions2_function', kind).labels, kind).toEqual({
        'arc-release': ref('var.release'),
      });
    expect(resource('google_compute_backend_service', 'frontend').name).toBe(`arc-${ref('each.key')}`);
    expect(Object.keys(local<Record<string, string>>('frontends')).sort()).toEqual(['api', 'haystack']);
  });

  it('puts IAP on every backend, /api/v1/* to haystack and the rest to api, behind a managed certificate', () => {
    const backends = tf.resource.google_compute_backend_service ?? {};
    expect(Object.keys(backends).length).toBeGreaterThan(0);
    for (const [name, [backend]] of Object.entries(backends))
      expect(first(backend!, 'iap').enabled, `${name} has IAP`).toBe(true);
    const map = resource('google_compute_url_map', 'frontend');
    expect(map.default_service).toBe(ref('google_compute_backend_service.frontend["api"].id'));
    const rule = first(first(map, 'path_matcher'), 'path_rule');
    expect(rule).toEqual({
      paths: ['/api/v1', '/api/v1/*'],
      service: ref('google_compute_backend_service.frontend["haystack"].id'),
    });
    expect(first(resource('google_compute_managed_ssl_certificate', 'frontend'), 'managed').domains).toEqual([
      ref('var.domain'),
    ]);
    const access = resource('google_iap_web_backend_service_iam_member', 'users');
    expect(access.role).toBe('roles/iap.httpsResourceAccessor');
    expect(String(access.for_each)).toContain('var.iap_members');
  });

  it('keeps lifecycle prefixes literal (matchesPrefix takes no wildcards)', () => {
    const rules = (resource('google_storage_bucket', 'runs').lifecycle_rule as Block[]).flatMap(
      (rule) => rule.condition as Block[],
    );
    const prefixes = rules.flatMap((c) => (c.matches_prefix as string[] | undefined) ?? []);
    expect(prefixes).toEqual(['work/', 'cache/']);
    for (const prefix of prefixes) expect(prefix).not.toMatch(/[*?[\]{}]/);
  });

  it('gives each service account only its listed project roles, each with its reason, none broad', () => {
    const accounts = Object.keys(
      (resource('google_service_account', 'sa').for_each as Record<string, string>) ?? {},
    );
    const roles = resource('google_project_iam_member', 'roles').for_each as Record<string, [string, string]>;
    for (const [key, [account, role]] of Object.entries(roles)) {
      expect(accounts, key).toContain(account);
      expect(key.startsWith(`${account}-`), `${key} is named after its account`).toBe(true);
      expect(role, key).not.toMatch(
        /^roles\/(owner|editor|viewer)$|\.admin$|^roles\/iam\.|^roles\/resourcemanager\./,
      );
      // The line above each entry says why the account needs it.
      const line = text.split('\n').findIndex((l) => l.trim().startsWith(`"${key}"`));
      expect(text.split('\n')[line - 1]?.trim(), `${key} has a comment saying why`).toMatch(/^#\s+\S/);
    }
    // HAYSTACK has its identity (the functions' default HAYSTACK_SERVICE_ACCOUNT is arc-haystack@).
    expect(accounts).toContain('haystack');
    expect(local<Record<string, string>>('common_env').HAYSTACK_SERVICE_ACCOUNT).toBe(
      ref('google_service_account.sa["haystack"].email'),
    );
  });

  it('sends the api function out through one reserved address for the warehouse allowlist, and says which', () => {
    const config = first(resource('google_cloudfunctions2_function', 'http'), 'service_config');
    expect(config.direct_vpc_egress).toBe(ref('each.key == "api" ? "VPC_EGRESS_ALL_TRAFFIC" : null'));
    const nat = resource('google_compute_router_nat', 'egress');
    expect(nat.nat_ip_allocate_option).toBe('MANUAL_ONLY');
    expect(nat.nat_ips).toEqual([ref('google_compute_address.egress.self_link')]);
    expect(tf.output.egress_ip![0]!.value).toBe(ref('google_compute_address.egress.address'));
  });

  it('alerts on log lines the functions really write, keyed on their structured fields', () => {
    const metrics = local<Record<string, { filter: string }>>('log_metrics');
    expect(Object.keys(metrics).sort()).toEqual(
      ['event_function_errors', 'runs_failed', 'stale_runs_swept', 'warehouse_unreachable'].sort(),
    );
    const source = readdirSync(join(process.cwd(), 'functions'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(process.cwd(), 'functions', f), 'utf8'))
      .join('\n');
    for (const [name, metric] of Object.entries(metrics)) {
      for (const [, value] of metric.filter.matchAll(/jsonPayload\.(?:message|event)="([a-z_]+)"/g))
        expect(source, `${name}: a line with "${value}"`).toContain(`'${value}'`);
    }
    expect(metrics.warehouse_unreachable!.filter).toContain('jsonPayload.dependency="warehouse"');
    expect(source).toContain("dependency: 'warehouse'");
    const policy = resource('google_monitoring_alert_policy', 'alerts');
    expect(policy.for_each).toBe(ref('local.log_metrics'));
  });

  it("deploys the assistant's model as the functions' default (a retired model would answer 404)", () => {
    const defaultModel = assistantEnv.shape.ANTHROPIC_MODEL.parse(undefined);
    expect(tf.variable.anthropic_model![0]!.default).toBe(defaultModel);
  });
});
