# ---- what an operator must hear about ----------------------------------------------
#
# Log-based metrics on the functions' structured log lines (functions/logging.ts: one JSON
# line, `message` the event, its fields beside it; in Cloud Logging, jsonPayload.*), and an
# alert policy on each, emailed to var.alert_emails.

locals {
  event_services = [for name in keys(local.event_functions) : lower(name)]
  log_metrics = {
    # A run entered failed (the audit line every status change writes; functions/deps/runs.ts).
    runs_failed = {
      description   = "Runs that failed"
      filter        = "jsonPayload.message=\"audit\" AND jsonPayload.event=\"run_status_changed\" AND jsonPayload.to=\"failed\""
      threshold     = var.alert_failed_runs_per_hour
      window        = "3600s"
      documentation = "Runs are failing more than usual. The runs list (Status: failed) shows each run's failed task and its error; a run that failed on infrastructure (Spot, quota) recovers with -resume."
    }
    # The sweeper settled a run its events never settled: events are being lost or delayed.
    stale_runs_swept = {
      description   = "Runs the stale-run sweeper had to settle"
      filter        = "jsonPayload.message=\"run_swept\""
      threshold     = 0
      window        = "900s"
      documentation = "The stale-run sweeper settled runs whose Batch or Cloud Storage events never arrived. Check the Eventarc triggers (npm run doctor) and the arc-batch-events topic."
    }
    # An event function answered 5xx, so Eventarc redelivers: a dependency is failing.
    event_function_errors = {
      description   = "Event deliveries the functions failed"
      filter        = "resource.type=\"cloud_run_revision\" AND log_id(\"run.googleapis.com/requests\") AND resource.labels.service_name=(\"${join("\" OR \"", local.event_services)}\") AND httpRequest.status>=500"
      threshold     = 5
      window        = "300s"
      documentation = "onBatchJobEvent, onRunArtifact or onRunEvent are failing; Eventarc retries them. Their ERROR lines say which dependency (Firestore, Cloud Storage, Batch, Pub/Sub)."
    }
    # A request needed the Benchling warehouse and could not reach it (functions/http/app.ts).
    warehouse_unreachable = {
      description   = "Requests that could not reach the Benchling warehouse"
      filter        = "jsonPayload.message=\"request_failed\" AND jsonPayload.dependency=\"warehouse\""
      threshold     = 0
      window        = "300s"
      documentation = "The Benchling warehouse does not answer from the platform's egress address (the egress_ip output): check that it is up and that its allowlist still has that address."
    }
  }
}

resource "google_logging_metric" "alerts" {
  for_each    = local.log_metrics
  name        = "arc_${each.key}"
  description = each.value.description
  filter      = each.value.filter
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.alert_emails)
  display_name = "Arc Reactor alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
  depends_on = [google_project_service.services]
}

resource "google_monitoring_alert_policy" "alerts" {
  for_each     = local.log_metrics
  display_name = "Arc Reactor: ${each.value.description}"
  combiner     = "OR"
  conditions {
    display_name = "${each.value.description} over ${each.value.threshold} in ${each.value.window}"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.alerts[each.key].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = each.value.window
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    content   = each.value.documentation
    mime_type = "text/markdown"
  }
  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
}
