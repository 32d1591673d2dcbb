/** What a notification says, and how a webhook receiver knows it came from us. */
import { createHmac } from 'node:crypto';
import { RUN_NOTICE, type RunNoticeCloudEvent, type RunStatusCloudEvent } from '../shared/run-events';

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

const VERB: Record<string, string> = {
  pending: 'is pending',
  submitted: 'was submitted',
  running: 'is running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'was cancelled',
};

/** The page's address of the run: the page its kind names (events staged before pages were named: the runs page). */
export function runPageUrl(publicUrl: string, event: RunStatusCloudEvent | RunNoticeCloudEvent): string {
  const page = event.data.page ?? `/runs/${encodeURIComponent(event.data.run_id)}`;
  return `${publicUrl.replace(/\/$/, '')}/#${page}`;
}

/** One short line a person reads in Slack or a mail subject, plus the detail and the link. */
const NOTICE_SUBJECT: Record<RunNoticeCloudEvent['data']['notice'], string> = {
  budget_warning: 'has used 80% of its budget',
  work_dir_expiring: 'can be resumed for a few more days only',
};

export function notificationText(
  event: RunStatusCloudEvent | RunNoticeCloudEvent,
  link: string,
): { subject: string; text: string } {
  // Messages and names are the platform's and the user's text: clipped, never markup in Slack's sense.
  const plain = (text: string) => text.replace(/[<>&]/g, ' ').slice(0, 300);
  if (event.type === RUN_NOTICE) {
    const n = event.data;
    const subject = `${n.run_id} ${NOTICE_SUBJECT[n.notice]} (${n.title})`;
    return { subject, text: [subject, plain(n.message), link].join('\n') };
  }
  const d = event.data;
  const what = d.title ?? `${d.pipeline}${d.pipeline_version ? ` ${d.pipeline_version}` : ''}`;
  const took = d.duration_seconds !== null ? ` after ${duration(d.duration_seconds)}` : '';
  const subject = `${d.run_id} ${VERB[d.to] ?? d.to}${took} (${what})`;
  const lines = [subject];
  if (d.error_task) lines.push(`Failed task: ${plain(d.error_task)}`);
  if (d.error_message) lines.push(plain(d.error_message));
  const labels = Object.entries(d.labels).map(([k, v]) => `${k}=${v}`);
  if (labels.length > 0) lines.push(`Labels: ${labels.join(', ')}`);
  lines.push(link);
  return { subject, text: lines.join('\n') };
}

/**
 * `X-Arc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver
 * recomputes it with its secret and rejects old timestamps (replays).
 */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
