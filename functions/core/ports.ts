import type { RandomBytes } from './ids';
import type { Run, RunStatus } from './run-model';
import type { RunEvent, RunEventSource } from './state-machine';

export interface RunFilter {
  /** Omit to list every user's runs (admins only). */
  user_email?: string;
  status?: RunStatus;
  pipeline?: string;
}

export interface PageRequest {
  page: number;
  page_size: number;
  page_token?: string;
}

export interface RunPage {
  runs: Run[];
  total: number;
  next_page_token: string | null;
}

/** One line of a run's status history (`runs/{id}/events`). */
export interface RunHistoryEntry {
  source: RunEventSource;
  from: RunStatus | null;
  to: RunStatus;
  at: string;
  detail: string | null;
  /** False when the state machine ignored the event (duplicate, backward, after a final status). */
  applied: boolean;
}

export interface ApplyResult {
  run: Run;
  applied: boolean;
}

export interface RunStore {
  /** Stores a new run and its first history entry; fails if the id is taken. */
  create(run: Run): Promise<void>;
  get(runId: string): Promise<Run | null>;
  list(filter: RunFilter, page: PageRequest): Promise<RunPage>;
  /** Runs applyRunEvent in a transaction and records the event; null when the run does not exist. */
  apply(runId: string, event: RunEvent): Promise<ApplyResult | null>;
  history(runId: string): Promise<RunHistoryEntry[]>;
}

export interface User {
  email: string;
  name: string;
}

export interface UserStore {
  /** Creates `users/{email}` on first sight, refreshes last_login_at after that. */
  touch(user: User, now: Date): Promise<void>;
}

export interface ObjectInfo {
  name: string;
  size: number;
  updated: string;
  contentType: string | null;
}

/** The run bucket. Names are object names inside it (runs/{id}/…); never a user-supplied path. */
export interface ObjectStore {
  readonly bucket: string;
  write(name: string, content: string | Uint8Array, contentType: string): Promise<void>;
  read(name: string): Promise<Buffer>;
  exists(name: string): Promise<boolean>;
  ping(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface Randomness {
  bytes: RandomBytes;
  uuid(): string;
}
