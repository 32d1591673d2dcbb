import { inject } from 'vitest';
import type { Run } from '../../functions/core/runs/run-model';
import { createFirestore } from '../../functions/deps';
import { memoryLogger } from '../../functions/logging';
import { waitFor } from '../../scripts/lib/net';
import { type RunningStack, startLocalStack } from '../../scripts/local/stack';
import { request } from './api-server';
import { firestoreEmulatorHost, pubsubEmulatorHost, tempDir, uniqueProjectId } from './env';
import { createFastqsFor, STANDARD_FASTQS } from './samplesheets';

export interface TestStack extends RunningStack {
  logs: ReturnType<typeof memoryLogger>;
  /** Moves the stale-run sweeper's clock forward: runs look older to it, with no waiting. */
  advanceSweepClock(ms: number): void;
  firestore: ReturnType<typeof createFirestore>;
  close(): Promise<void>;
}

/** The whole local stack for one test file: its own project id, data dir and ports; a fast replay. */
export async function startTestStack(
  options: {
    env?: Record<string, string>;
    replaySpeed?: number;
    withPage?: boolean;
    apiOverrides?: Parameters<typeof startLocalStack>[0]['apiOverrides'];
    moreKinds?: Parameters<typeof startLocalStack>[0]['moreKinds'];
  } = {},
): Promise<TestStack> {
  const dir = await tempDir('arc-stack-');
  const logs = memoryLogger();
  // A request the API failed with a 5xx is printed as it happens, with its cause: a test that
  // then fails on the status alone still shows why (vitest prints a file's stderr).
  const record = logs.log.bind(logs);
  logs.log = (severity, message, fields = {}) => {
    record(severity, message, fields);
    if (severity === 'ERROR' && message === 'request_failed')
      process.stderr.write(`[stack] request_failed ${JSON.stringify(fields).slice(0, 3_000)}\n`);
  };
  let sweepOffsetMs = 0;
  const sweepClock = { now: () => new Date(Date.now() + sweepOffsetMs) };
  const stack = await startLocalStack({
    dataDir: dir.path,
    port: 0,
    orchestratorDir: inject('orchestratorDir'),
    ...(options.withPage ? { webDir: inject('webDir') } : {}),
    replaySpeed: options.replaySpeed ?? 2_500,
    logger: logs,
    sweepClock,
    ...(options.apiOverrides ? { apiOverrides: options.apiOverrides } : {}),
    ...(options.moreKinds ? { moreKinds: options.moreKinds } : {}),
    // Suites that need the warehouse pass a test database's WAREHOUSE_* settings.
    warehouse: 'none',
    // The offline demo model, whatever key the developer's shell holds.
    assistantChunkDelayMs: 0,
    env: {
      ANTHROPIC_API_KEY: '',
      SECRET_ANTHROPIC_API_KEY: '',
      ANTHROPIC_BASE_URL: '',
      FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
      PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
      GOOGLE_CLOUD_PROJECT: uniqueProjectId(),
      USER_TOUCH_INTERVAL_SECONDS: '0',
      RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
      RATE_LIMIT_READS_PER_MINUTE: '0',
      WORKFLOW_POLL_SECONDS: '0.3',
      CHUNK_INTERVAL_SECONDS: '0.3',
      ...options.env,
    },
  });
  await createFastqsFor(stack.gcs, STANDARD_FASTQS);
  return {
    ...stack,
    logs,
    advanceSweepClock: (ms) => {
      sweepOffsetMs += ms;
    },
    firestore: createFirestore(stack.config),
    async close() {
      await stack.stop();
      await dir.remove();
    },
  };
}

/** The stack's last logged errors, one line each (a 5xx's cause), for a failure message. */
export function lastErrors(logs: TestStack['logs'], count = 5): string {
  return logs.entries
    .filter((e) => e.severity === 'ERROR')
    .slice(-count)
    .map((e) => `${e.message} ${JSON.stringify(e.fields).slice(0, 2_000)}`)
    .join('\n');
}

/**
 * Awaits a promise of the stack (a workflow execution's end, the bridge going idle) with a
 * time limit; on timeout the error says what was still going on.
 */
export async function settled<T>(
  stack: TestStack,
  promise: Promise<T>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const deliveries = stack.bridge
        .inFlightDeliveries()
        .map(
          (d) =>
            `${d.event.type} ${d.event.subject ?? ''} → ${d.url}: ${d.attempts} attempts, last ${d.status}`,
        );
      const logs = stack.logs.entries.slice(-25).map((e) => `${e.severity} ${e.message}`);
      reject(
        new Error(
          `${what} did not happen within ${timeoutMs} ms.\nDeliveries in flight:\n${deliveries.join('\n') || '(none)'}\nLast stack logs:\n${logs.join('\n')}`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function getRun(
  stack: TestStack,
  runId: string,
  headers: Record<string, string> = {},
): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs/${runId}`, { headers });
  if (response.status !== 200)
    throw new Error(`GET ${runId} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Polls the API until the run satisfies the condition; returns it. */
export async function waitForRun(
  stack: TestStack,
  runId: string,
  condition: (run: Run) => boolean,
  timeoutMs = 60_000,
): Promise<Run> {
  let last: Run | null = null;
  try {
    await waitFor(
      async () => {
        last = await getRun(stack, runId);
        return condition(last);
      },
      { timeoutMs, intervalMs: 100, what: `run ${runId}` },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} Last seen: ${JSON.stringify(last)}`);
  }
  return last!;
}

export const isFinal = (run: Run) => ['completed', 'failed', 'cancelled'].includes(run.status);
