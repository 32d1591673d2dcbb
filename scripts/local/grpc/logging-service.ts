/**
 * google.logging.v2.LoggingServiceV2 over gRPC: the part of Cloud Logging the task log
 * reader uses (ListLogEntries with an equality filter, ordered by time), backed by entries
 * written with `write`. The real @google-cloud/logging client talks to it.
 */
import { grpc } from 'google-gax';
import { GrpcStatusError, loadService, serve, timestamp, unary, unimplemented } from './proto';

export interface LocalLogEntry {
  logName: string;
  severity: string;
  textPayload: string;
  labels: Record<string, string>;
  timestamp: string;
}

type Term = [path: string, operator: '=' | '>=' | '<=', value: string];

/** `logName="x" AND labels.job_uid="y" AND timestamp>="…"`: the terms the twin understands. */
function parseFilter(filter: string): Term[] {
  if (!filter.trim()) return [];
  return filter.split(/\s+AND\s+/).map((term) => {
    const match = /^\s*([A-Za-z_.]+)\s*(=|>=|<=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(term);
    if (!match)
      throw new GrpcStatusError(
        grpc.status.INVALID_ARGUMENT,
        `the local logging twin only understands field="value", timestamp>="…" AND …, got: ${term}`,
      );
    return [match[1]!, match[2] as Term[1], match[3]!];
  });
}

function matches(entry: LocalLogEntry, [path, operator, value]: Term): boolean {
  if (path === 'timestamp') {
    const at = Date.parse(entry.timestamp);
    return operator === '>='
      ? at >= Date.parse(value)
      : operator === '<='
        ? at <= Date.parse(value)
        : entry.timestamp === value;
  }
  return operator === '=' && field(entry, path) === value;
}

function field(entry: LocalLogEntry, path: string): string | undefined {
  if (path === 'logName') return entry.logName;
  if (path === 'severity') return entry.severity;
  if (path.startsWith('labels.')) return entry.labels[path.slice('labels.'.length)];
  return undefined;
}

export class LocalLogging {
  readonly entries: LocalLogEntry[] = [];

  write(entry: Omit<LocalLogEntry, 'timestamp'> & { timestamp?: string }): void {
    this.entries.push({ ...entry, timestamp: entry.timestamp ?? new Date().toISOString() });
  }
}

export async function serveLogging(logging: LocalLogging): Promise<{ host: string; stop(): Promise<void> }> {
  const service = loadService(
    '@google-cloud/logging-api',
    'google/logging/v2/logging.proto',
    'google.logging.v2.LoggingServiceV2',
  );
  return serve(service, {
    ListLogEntries: unary(
      async (request: { filter: string; orderBy: string; pageSize: number; pageToken: string }) => {
        const terms = parseFilter(request.filter);
        const matching = logging.entries
          .filter((entry) => terms.every((term) => matches(entry, term)))
          .sort((a, b) =>
            request.orderBy.includes('desc')
              ? b.timestamp.localeCompare(a.timestamp)
              : a.timestamp.localeCompare(b.timestamp),
          );
        const start = Number(request.pageToken || 0);
        const size = request.pageSize > 0 ? request.pageSize : 50;
        const page = matching.slice(start, start + size);
        return {
          entries: page.map((entry) => ({
            logName: entry.logName,
            severity: entry.severity,
            textPayload: entry.textPayload,
            labels: entry.labels,
            timestamp: timestamp(entry.timestamp),
            resource: { type: 'batch.googleapis.com/Job', labels: {} },
          })),
          nextPageToken: start + size < matching.length ? String(start + size) : '',
        };
      },
    ),
    WriteLogEntries: unimplemented('WriteLogEntries'),
    DeleteLog: unimplemented('DeleteLog'),
    ListMonitoredResourceDescriptors: unimplemented('ListMonitoredResourceDescriptors'),
    ListLogs: unimplemented('ListLogs'),
    TailLogEntries: unimplemented('TailLogEntries'),
  });
}
