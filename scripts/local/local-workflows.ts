/**
 * The local twin of Cloud Workflows executions: runs a definition with the local
 * interpreter. HTTP calls go out for real (fetch); the Batch connectors map onto a
 * JobRunner; sys.sleep can be scaled down. Executions can be held before they start
 * (tests use it to act before a workflow's first step) and cancelled.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  BatchJob as BatchJobSchema,
  JobExistsError,
  type JobRunner,
  JobRunnerError,
  TERMINAL_JOB_STATES,
} from '../../functions/core/shared/batch';
import { raise, type Value, WorkflowError } from './workflows/expressions';
import {
  type HttpResponse,
  type InterpreterHost,
  WorkflowDefinition,
  WorkflowInterpreter,
} from './workflows/interpreter';

export type ExecutionState = 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface LocalExecution {
  name: string;
  argument: string;
  state: ExecutionState;
  startTime: string;
  endTime: string | null;
  result: string | null;
  error: string | null;
  done: Promise<void>;
}

export interface LocalWorkflowsOptions {
  definitionPath: string;
  jobs: JobRunner;
  env?: Record<string, string>;
  /** sys.sleep and retry backoff seconds are multiplied by this (1 = real time). */
  timeScale?: number;
  log?: (severity: string, message: string) => void;
  /** Every execution waits before its first step until released (API tests that only need runs started). */
  holdAll?: boolean;
}

const CONNECTOR_DEFAULT_TIMEOUT_SECONDS = 1800;
const CONNECTOR_POLL_SECONDS = 5;

function sleep(seconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted)
      return reject(new WorkflowError({ message: 'the execution was cancelled', tags: ['CancelledError'] }));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, seconds * 1000);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new WorkflowError({ message: 'the execution was cancelled', tags: ['CancelledError'] }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function connectorError(error: unknown): never {
  if (error instanceof JobExistsError) {
    throw new WorkflowError({ message: `ALREADY_EXISTS: ${error.message}`, code: 409, tags: ['HttpError'] });
  }
  if (error instanceof JobRunnerError) {
    throw new WorkflowError({ message: error.message, code: error.status, tags: ['HttpError'] });
  }
  throw error;
}

export class LocalWorkflows {
  private readonly definition: WorkflowDefinition;
  private readonly executions = new Map<string, LocalExecution & { controller: AbortController }>();
  private holds = 0;
  private holdEverything: boolean;
  private readonly held = new Map<string, () => void>();

  /** Deployed workflows by name (the Workflows API's view): run-pipeline is the definition it runs. */
  private readonly deployments = new Map<string, { source: string; revision: number; updated: string }>();

  constructor(private readonly options: LocalWorkflowsOptions) {
    const source = readFileSync(options.definitionPath, 'utf8');
    this.definition = new WorkflowDefinition(source);
    this.deployments.set('run-pipeline', { source, revision: 1, updated: new Date().toISOString() });
    this.holdEverything = options.holdAll ?? false;
  }

  /**
   * Deploys `source` as workflow `name`, as CreateWorkflow/UpdateWorkflow do: a definition the
   * service would reject is refused (it is parsed and checked the way executions read it).
   */
  deploy(name: string, source: string): void {
    new WorkflowDefinition(source);
    const previous = this.deployments.get(name);
    this.deployments.set(name, {
      source,
      revision: (previous?.revision ?? 0) + 1,
      updated: new Date().toISOString(),
    });
  }

  /** Removes a deployed workflow (DeleteWorkflow). */
  undeploy(name: string): void {
    this.deployments.delete(name);
  }

  deployment(name: string): { source: string; revision: number; updated: string } | null {
    return this.deployments.get(name) ?? null;
  }

  /** Every execution started from now on waits before its first step, until releaseAll() or release(name). */
  holdAll(): void {
    this.holdEverything = true;
  }

  /** Stops holding new executions and releases every held one. */
  releaseAll(): void {
    this.holdEverything = false;
    for (const name of [...this.held.keys()]) this.release(name);
  }

  /** The next execution waits before its first step until release(name). */
  holdNext(): void {
    this.holds += 1;
  }

  release(name: string): void {
    this.held.get(name)?.();
    this.held.delete(name);
  }

  get(name: string): LocalExecution | null {
    return this.executions.get(name) ?? null;
  }

  list(): LocalExecution[] {
    return [...this.executions.values()];
  }

  cancel(name: string): LocalExecution | null {
    const execution = this.executions.get(name);
    if (!execution) return null;
    if (execution.state === 'ACTIVE') execution.controller.abort();
    this.release(name);
    return execution;
  }

  /** Starts an execution of the definition; `parent` is projects/{p}/locations/{l}/workflows/{w}. */
  start(parent: string, argument: string): LocalExecution {
    const name = `${parent}/executions/${randomUUID()}`;
    const controller = new AbortController();
    const hold =
      this.holdEverything || this.holds > 0
        ? new Promise<void>((resolve) => this.held.set(name, resolve))
        : Promise.resolve();
    if (!this.holdEverything && this.holds > 0) this.holds -= 1;
    const execution = {
      name,
      argument,
      state: 'ACTIVE' as ExecutionState,
      startTime: new Date().toISOString(),
      endTime: null as string | null,
      result: null as string | null,
      error: null as string | null,
      controller,
      done: Promise.resolve(),
    };
    execution.done = hold
      .then(() =>
        new WorkflowInterpreter(this.definition, this.host()).execute(JSON.parse(argument) as Value, {
          signal: controller.signal,
        }),
      )
      .then(
        (result) => {
          execution.state = 'SUCCEEDED';
          execution.result = JSON.stringify(result);
        },
        (error: unknown) => {
          execution.state = controller.signal.aborted ? 'CANCELLED' : 'FAILED';
          execution.error =
            error instanceof WorkflowError
              ? JSON.stringify(error.payload)
              : String(error instanceof Error ? error.message : error);
          // A cancel (a run cancelled, the stack stopping) is no error.
          if (controller.signal.aborted) this.options.log?.('INFO', `workflow execution ${name} cancelled`);
          else
            this.options.log?.('ERROR', `workflow execution ${name} ${execution.state}: ${execution.error}`);
        },
      )
      .finally(() => {
        execution.endTime = new Date().toISOString();
      });
    this.executions.set(name, execution);
    return execution;
  }

  private host(): InterpreterHost {
    const scale = this.options.timeScale ?? 1;
    const jobs = this.options.jobs;
    return {
      env: this.options.env ?? {},
      log: (severity, message) =>
        this.options.log?.(severity, typeof message === 'string' ? message : JSON.stringify(message)),
      sleep: (seconds, signal) => sleep(seconds * scale, signal),
      http: async (method, args): Promise<HttpResponse> => {
        const url = new URL(args.url);
        for (const [key, value] of Object.entries(args.query ?? {})) url.searchParams.set(key, String(value));
        let response: Response;
        try {
          response = await fetch(url, {
            method,
            headers: {
              ...(args.body === undefined ? {} : { 'content-type': 'application/json' }),
              ...args.headers,
            },
            ...(args.body === undefined ? {} : { body: JSON.stringify(args.body) }),
            signal: AbortSignal.timeout(args.timeoutSeconds * 1000),
          });
        } catch (error) {
          if ((error as Error).name === 'TimeoutError')
            raise('TimeoutError', `HTTP request to ${args.url} timed out`);
          return raise(
            'ConnectionFailedError',
            `connection to ${args.url} failed: ${(error as Error).message}`,
            ['ConnectionError'],
          );
        }
        const text = await response.text();
        const isJson = (response.headers.get('content-type') ?? '').includes('json');
        let body: Value = text;
        if (isJson && text) body = JSON.parse(text) as Value;
        return { code: response.status, headers: Object.fromEntries(response.headers.entries()), body };
      },
      connectors: {
        'googleapis.batch.v1.projects.locations.jobs.create': async (a) => {
          const params = (a.connector_params ?? {}) as { skip_polling?: boolean; timeout?: number };
          let job: Value;
          try {
            job = (await jobs.createJob({
              parent: String(a.parent),
              jobId: String(a.jobId),
              requestId: String(a.requestId),
              job: a.body as never,
              // Like the real connector: a taken job id is a 409 the workflow handles.
              adoptExisting: false,
            })) as unknown as Value;
          } catch (error) {
            return connectorError(error);
          }
          if (params.skip_polling) return job;
          // Without skip_polling the connector waits for the job to finish, up to its timeout.
          const deadline = Date.now() + (params.timeout ?? CONNECTOR_DEFAULT_TIMEOUT_SECONDS) * 1000 * scale;
          for (;;) {
            const current = await jobs.getJob(String((job as { name: string }).name));
            if (current && TERMINAL_JOB_STATES.includes(current.status.state))
              return current as unknown as Value;
            if (Date.now() > deadline)
              raise('TimeoutError', 'the connector timed out waiting for the Batch job');
            await sleep(CONNECTOR_POLL_SECONDS * scale, new AbortController().signal);
          }
        },
        'googleapis.batch.v1.projects.locations.jobs.get': async (a) => {
          let job: Awaited<ReturnType<JobRunner['getJob']>>;
          try {
            job = await jobs.getJob(String(a.name));
          } catch (error) {
            return connectorError(error);
          }
          if (!job)
            throw new WorkflowError({
              message: `NOT_FOUND: Job ${String(a.name)} not found`,
              code: 404,
              tags: ['HttpError'],
            });
          return BatchJobSchema.parse(job) as unknown as Value;
        },
      },
    };
  }
}
