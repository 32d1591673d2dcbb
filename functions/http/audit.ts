import type { Logger } from '../logging';

/** What the audit log records (ARCHITECTURE §11). */
export type AuditEvent =
  | 'sign_in'
  | 'run_created'
  | 'run_cancelled'
  | 'run_recovered'
  | 'run_labels_changed'
  | 'work_dir_freed'
  | 'preferences_changed'
  | 'run_status_changed'
  | 'access_denied';

export interface AuditFields {
  user: string | null;
  run_id?: string | null;
  request_id?: string | null;
  [field: string]: unknown;
}

/**
 * One structured line per security-relevant event: `message: "audit"`, the event, who, which
 * run and which request. In Cloud Logging: jsonPayload.message="audit".
 */
export function audit(logger: Logger, event: AuditEvent, fields: AuditFields): void {
  logger.log('NOTICE', 'audit', { event, run_id: null, request_id: null, ...fields });
}
