# Every cloud resource of Arc Reactor (ARCHITECTURE §1–§7). Apply after `npm run build`:
#   terraform init && terraform apply -var project=... -var runs_bucket=... -var orchestrator_image=...

locals {
  services = [
    "artifactregistry.googleapis.com",
    "batch.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "eventarc.googleapis.com",
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iamcredentials.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "workflows.googleapis.com",
  ]
  functions_base_url = "https://${var.region}-${var.project}.cloudfunctions.net"
  common_env = {
    GOOGLE_CLOUD_PROJECT         = var.project
    GCP_REGION                   = var.region
    RUNS_BUCKET                  = var.runs_bucket
    EXECUTOR                     = "google-batch"
    ORCHESTRATOR_IMAGE           = var.orchestrator_image
    HAYSTACK_AGENT_IMAGE         = var.haystack_agent_image
    HAYSTACK_INFERENCE_IMAGE     = var.haystack_inference_image
    HAYSTACK_SERVICE_ACCOUNT     = google_service_account.sa["haystack"].email
    ORCHESTRATOR_SERVICE_ACCOUNT = google_service_account.sa["orchestrator"].email
    TASKS_SERVICE_ACCOUNT        = google_service_account.sa["tasks"].email
    BATCH_EVENTS_TOPIC           = google_pubsub_topic.batch_events.name
    RUN_EVENTS_TOPIC             = google_pubsub_topic.run_events.name
    WORKFLOW_NAME                = "run-pipeline"
    FUNCTIONS_BASE_URL           = local.functions_base_url
    ADMIN_EMAILS                 = join(",", var.admin_emails)
    WORK_RETENTION_DAYS          = tostring(var.work_retention_days)
    AUTH_MODE                    = "iap"
    # The audiences IAP signs for: the load balancer's two backends (load-balancer.tf).
    IAP_AUDIENCE = join(",", [
      for backend in google_compute_backend_service.frontend :
      "/projects/${data.google_project.this.number}/global/backendServices/${backend.generated_id}"
    ])
    IAP_HOSTED_DOMAIN         = var.iap_hosted_domain
    CORS_ALLOWED_ORIGINS      = join(",", var.cors_allowed_origins)
    FUNCTIONS_SERVICE_ACCOUNT = google_service_account.sa["functions"].email
    FIREBASE_WEB_API_KEY      = var.firebase_web_api_key
    WAREHOUSE_HOST            = var.warehouse_host
    WAREHOUSE_PORT            = tostring(var.warehouse_port)
    WAREHOUSE_DATABASE        = var.warehouse_database
    WAREHOUSE_USER            = var.warehouse_user
    WAREHOUSE_PASSWORD_SECRET = google_secret_manager_secret.warehouse_password.secret_id
    WAREHOUSE_SSL             = "require"
    WAREHOUSE_MAPPING         = var.warehouse_mapping
    ANTHROPIC_API_KEY_SECRET  = google_secret_manager_secret.anthropic_api_key.secret_id
    SENDGRID_API_KEY_SECRET   = google_secret_manager_secret.sendgrid_api_key.secret_id
    NOTIFY_FROM_EMAIL         = var.notify_from_email
    PUBLIC_URL                = var.public_url != "" ? var.public_url : "https://${var.domain}/"
    ANTHROPIC_MODEL           = var.anthropic_model
  }
  # invoker: the one identity allowed to call a private function.
  # Sizing (the capacity model, docs/ARCHITECTURE.md §14): Node serves many requests at once
  # on one instance, so the HTTP functions take up to `concurrency` each; above 1 that needs a
  # whole vCPU. A live view (SSE) holds one of the api's slots for up to SSE_MAX_SECONDS, at
  # most SSE_STREAMS_PER_INSTANCE (60) of its 80. The sweeper runs alone, once an interval.
  http_functions = {
    api = {
      entry         = "api"
      public        = true
      invoker       = null
      concurrency   = 80
      cpu           = "1"
      memory        = "1Gi"
      min_instances = var.api_min_instances
      max_instances = var.api_max_instances
    }
    prepareRun = {
      entry         = "prepareRun"
      public        = false
      invoker       = "workflows"
      concurrency   = 20
      cpu           = "1"
      memory        = "512Mi"
      min_instances = 0
      max_instances = 20
    }
    reconcileRun = {
      entry         = "reconcileRun"
      public        = false
      invoker       = "workflows"
      concurrency   = 20
      cpu           = "1"
      memory        = "512Mi"
      min_instances = 0
      max_instances = 20
    }
    sweepStaleRuns = {
      entry         = "sweepStaleRuns"
      public        = false
      invoker       = "scheduler"
      concurrency   = 1
      cpu           = "0.333"
      memory        = "512Mi"
      min_instances = 0
      max_instances = 2
    }
    # HAYSTACK's API under /api/v1 (its runs take the same workflow steps as every kind's).
    haystack = {
      entry         = "haystack"
      public        = true
      invoker       = null
      concurrency   = 40
      cpu           = "1"
      memory        = "512Mi"
      min_instances = 0
      max_instances = 20
    }
  }
  # The event functions each take events concurrently too: chunk uploads of 100 running runs
  # reach onRunArtifact at up to 40 a second (§14).
  event_function_sizing = { concurrency = 10, cpu = "1", memory = "512Mi", max_instances = 30 }
  event_functions = {
    onBatchJobEvent = {
      event_type = "google.cloud.pubsub.topic.v1.messagePublished"
      topic      = google_pubsub_topic.batch_events.id
      filters    = {}
    }
    onRunArtifact = {
      event_type = "google.cloud.storage.object.v1.finalized"
      topic      = null
      filters    = { bucket = var.runs_bucket }
    }
    # Notifications: each run status event, to the webhooks and email its owner chose.
    onRunEvent = {
      event_type = "google.cloud.pubsub.topic.v1.messagePublished"
      topic      = google_pubsub_topic.run_events.id
      filters    = {}
    }
  }
}

data "google_project" "this" {}

resource "google_project_service" "services" {
  for_each           = toset(local.services)
  service            = each.value
  disable_on_destroy = false
}

# ---- storage ------------------------------------------------------------------------

resource "google_storage_bucket" "runs" {
  name                        = var.runs_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # matchesPrefix takes literal prefixes: that is why work dirs live under work/ and not
  # under runs/*/work/ (ARCHITECTURE §4, §12).
  lifecycle_rule {
    condition {
      age            = var.work_retention_days
      matches_prefix = ["work/", "cache/"]
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = "arc-reactor"
  format        = "DOCKER"
  depends_on    = [google_project_service.services]
}

# ---- Firestore ----------------------------------------------------------------------

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
  depends_on  = [google_project_service.services]
}

# The runs list: one user's runs, optionally by status and pipeline, newest first.
resource "google_firestore_index" "runs" {
  for_each = {
    user                 = ["user_email"]
    user_status          = ["user_email", "status"]
    user_pipeline        = ["user_email", "pipeline"]
    user_status_pipeline = ["user_email", "status", "pipeline"]
    status               = ["status"]
    pipeline             = ["pipeline"]
    status_pipeline      = ["status", "pipeline"]
  }
  database   = google_firestore_database.default.name
  collection = "runs"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The runs list filtered by a label (GET /api/runs?label=key=value): label_pairs holds the
# labels as key=value strings, queried with array-contains.
resource "google_firestore_index" "runs_by_label" {
  for_each = {
    user          = ["user_email"]
    user_status   = ["user_email", "status"]
    user_pipeline = ["user_email", "pipeline"]
    all           = []
  }
  database   = google_firestore_database.default.name
  collection = "runs"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path   = "label_pairs"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# A user's recovery chains' work dirs, the largest first (GET /api/work-dirs; everyone's needs
# only the single-field index).
resource "google_firestore_index" "runs_by_work_dir_size" {
  database   = google_firestore_database.default.name
  collection = "runs"
  fields {
    field_path = "user_email"
    order      = "ASCENDING"
  }
  fields {
    field_path = "work_dir.bytes"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# Run status events not yet published, per run in status order (the outbox's drain).
resource "google_firestore_index" "run_event_outbox" {
  database   = google_firestore_database.default.name
  collection = "run_event_outbox"
  fields {
    field_path = "run_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "seq"
    order      = "ASCENDING"
  }
}

# HAYSTACK runs: a user's newest first (the page, GET /api/v1/runs), optionally by status.
resource "google_firestore_index" "haystack_runs" {
  for_each = {
    user        = ["user_email"]
    user_status = ["user_email", "status"]
    status      = ["status"]
  }
  database   = google_firestore_database.default.name
  collection = "haystack_runs"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The page's search (web/src/live.ts): runs by a prefix of their name, samples, NGS runs or
# project (search_terms, lowercase), a user's or everyone's, newest first; and by run id prefix.
resource "google_firestore_index" "runs_search" {
  for_each   = { user = ["user_email"], all = [] }
  database   = google_firestore_database.default.name
  collection = "runs"
  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path   = "search_terms"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "runs_by_id" {
  database   = google_firestore_database.default.name
  collection = "runs"
  fields {
    field_path = "user_email"
    order      = "ASCENDING"
  }
  fields {
    field_path = "run_id"
    order      = "ASCENDING"
  }
}

# The sweeper's queries: active runs by last update, pending runs by age.
resource "google_firestore_index" "sweeper" {
  for_each   = toset(["updated_at", "created_at"])
  database   = google_firestore_database.default.name
  collection = "runs"
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# The stale-run sweep of HAYSTACK runs (sweepStaleRuns in functions/core/shared/kernel.ts, through the HAYSTACK kind's store).
resource "google_firestore_index" "haystack_sweeper" {
  for_each   = toset(["updated_at", "created_at"])
  database   = google_firestore_database.default.name
  collection = "haystack_runs"
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# Rate-limit windows delete themselves (ARCHITECTURE §11): a TTL policy on expires_at.
resource "google_firestore_field" "rate_limit_ttl" {
  database   = google_firestore_database.default.name
  collection = "rate_limits"
  field      = "expires_at"
  ttl_config {}
  index_config {}
}

# The web page reads Firestore under these rules; every write goes through the functions.
resource "google_firebaserules_ruleset" "firestore" {
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }
  depends_on = [google_project_service.services, google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  name         = "cloud.firestore"
  ruleset_name = google_firebaserules_ruleset.firestore.name
  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}

# ---- identities ---------------------------------------------------------------------

resource "google_service_account" "sa" {
  for_each = {
    functions    = "Arc Reactor functions"
    workflows    = "Arc Reactor run-pipeline workflow"
    orchestrator = "Arc Reactor orchestrator (Batch job VM)"
    tasks        = "Arc Reactor Nextflow task VMs"
    events       = "Arc Reactor Eventarc triggers"
    scheduler    = "Arc Reactor Cloud Scheduler (stale-run sweeper)"
    haystack     = "Arc Reactor HAYSTACK agent and STACK model jobs"
  }
  account_id   = "arc-${each.key}"
  display_name = each.value
}

# Each identity's project roles, and why it needs each (test/unit/infra checks every one is
# listed here with a reason, and that none is a broad role).
resource "google_project_iam_member" "roles" {
  for_each = {
    # Runs, users, rate limits, conversations, the outbox: the functions' state is Firestore.
    "functions-datastore" = ["functions", "roles/datastore.user"]
    # Cancel and read Batch jobs (cancel, the sweeper, task logs); the workflow creates them.
    "functions-batch" = ["functions", "roles/batch.jobsEditor"]
    # A launch or recovery starts a run-pipeline execution.
    "functions-workflows" = ["functions", "roles/workflows.invoker"]
    # Structured logs (audit lines, errors) from every function.
    "functions-logs" = ["functions", "roles/logging.logWriter"]
    # Task logs of Batch jobs are read from Cloud Logging (GET …/tasks/{id}/logs).
    "functions-log-viewer" = ["functions", "roles/logging.viewer"]
    # The workflow creates, polls and deletes the run's Batch job.
    "workflows-batch" = ["workflows", "roles/batch.jobsEditor"]
    # The workflow's own step logs.
    "workflows-logs" = ["workflows", "roles/logging.logWriter"]
    # The Batch agent on the orchestrator VM reports task state.
    "orchestrator-agent" = ["orchestrator", "roles/batch.agentReporter"]
    # Nextflow's google-batch executor creates a Batch job per task.
    "orchestrator-batch" = ["orchestrator", "roles/batch.jobsEditor"]
    # The orchestrator's and Nextflow's logs.
    "orchestrator-logs" = ["orchestrator", "roles/logging.logWriter"]
    # Pulls the orchestrator image from the arc-reactor repository.
    "orchestrator-registry" = ["orchestrator", "roles/artifactregistry.reader"]
    # The Batch agent on each task VM reports task state.
    "tasks-agent" = ["tasks", "roles/batch.agentReporter"]
    # Task stdout/stderr, read back by the task-log route.
    "tasks-logs" = ["tasks", "roles/logging.logWriter"]
    # Eventarc's triggers deliver events with this identity.
    "events-receiver" = ["events", "roles/eventarc.eventReceiver"]
    # The HAYSTACK agent writes its run's phase, iterations and scores to haystack_runs/.
    "haystack-datastore" = ["haystack", "roles/datastore.user"]
    # The agent runs each model call as a Batch job of its own (stack-{run}-i{n}-treat|ctrl).
    "haystack-batch" = ["haystack", "roles/batch.jobsEditor"]
    # The Batch agent on the agent's and the model jobs' VMs reports task state.
    "haystack-agent" = ["haystack", "roles/batch.agentReporter"]
    # The agent's and the model's logs.
    "haystack-logs" = ["haystack", "roles/logging.logWriter"]
    # Pulls the haystack-agent and stack-inference images.
    "haystack-registry" = ["haystack", "roles/artifactregistry.reader"]
  }
  project = var.project
  role    = each.value[1]
  member  = "serviceAccount:${google_service_account.sa[each.value[0]].email}"
}

# Run inputs, logs, results and work dirs live in the runs bucket: the functions write inputs and
# read results, the orchestrator and tasks write everything Nextflow makes, HAYSTACK its h5ad files.
resource "google_storage_bucket_iam_member" "runs" {
  for_each = toset(["functions", "orchestrator", "tasks", "haystack"])
  bucket   = google_storage_bucket.runs.name
  role     = "roles/storage.objectAdmin"
  member   = "serviceAccount:${google_service_account.sa[each.value].email}"
}

# Whoever creates a Batch job that runs as a service account must be allowed to act as it.
resource "google_service_account_iam_member" "act_as" {
  for_each = {
    "functions-orchestrator" = ["functions", "orchestrator"]
    "workflows-orchestrator" = ["workflows", "orchestrator"]
    "orchestrator-tasks"     = ["orchestrator", "tasks"]
    "workflows-haystack"     = ["workflows", "haystack"]
    "haystack-haystack"      = ["haystack", "haystack"]
  }
  service_account_id = google_service_account.sa[each.value[1]].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.sa[each.value[0]].email}"
}

# Signed download links are signed through the IAM Credentials API with the functions' own identity.
resource "google_service_account_iam_member" "functions_sign" {
  service_account_id = google_service_account.sa["functions"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.sa["functions"].email}"
}

# ---- events -------------------------------------------------------------------------

resource "google_pubsub_topic" "batch_events" {
  name       = "arc-batch-events"
  depends_on = [google_project_service.services]
}

# Run status events (ARCHITECTURE §14): one CloudEvent per applied status change of a run, for
# the notifier and any other system. Kept a week so a subscriber that was down can catch up.
resource "google_pubsub_topic" "run_events" {
  name                       = "arc-run-events"
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.services]
}

# The functions publish status changes (the run stores, after each commit, and the sweeper).
resource "google_pubsub_topic_iam_member" "functions_publish_run_events" {
  topic  = google_pubsub_topic.run_events.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.sa["functions"].email}"
}

# Who may attach subscriptions to run events (other teams' systems): an explicit list.
resource "google_pubsub_topic_iam_member" "run_events_subscribers" {
  for_each = toset(var.run_event_subscribers)
  topic    = google_pubsub_topic.run_events.name
  role     = "roles/pubsub.subscriber"
  member   = each.value
}

# The HAYSTACK agent changes its run's status (running, completed, failed) through the same
# lifecycle as the functions, so it publishes those status events to arc-run-events as they do.
resource "google_pubsub_topic_iam_member" "haystack_publish_run_events" {
  topic  = google_pubsub_topic.run_events.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.sa["haystack"].email}"
}

# Batch publishes job state changes with its service agent.
resource "google_pubsub_topic_iam_member" "batch_publisher" {
  topic  = google_pubsub_topic.batch_events.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudbatch.iam.gserviceaccount.com"
}

# Cloud Storage triggers need the GCS service agent to publish to Pub/Sub.
data "google_storage_project_service_account" "gcs" {}

resource "google_project_iam_member" "gcs_publisher" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# ---- functions ----------------------------------------------------------------------

resource "google_storage_bucket" "sources" {
  name                        = "${var.project}-arc-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
}

data "archive_file" "function" {
  for_each    = merge(local.http_functions, local.event_functions)
  type        = "zip"
  source_dir  = "${var.functions_source_dir}/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
}

resource "google_storage_bucket_object" "function" {
  for_each = data.archive_file.function
  bucket   = google_storage_bucket.sources.name
  name     = "${each.key}-${each.value.output_md5}.zip"
  source   = each.value.output_path
}

resource "google_cloudfunctions2_function" "http" {
  for_each = local.http_functions
  name     = each.key
  location = var.region
  # Which commit is deployed: `npm run doctor` compares it with the checkout.
  labels = { arc-release = var.release }

  build_config {
    runtime     = "nodejs20"
    entry_point = each.value.entry
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = 120
    service_account_email            = google_service_account.sa["functions"].email
    # The api function also serves the page (dist/web, deployed as web/ inside its source).
    environment_variables = merge(local.common_env, { NODE_ENV = "production" }, each.key == "api" ? { WEB_DIR = "web" } : {})
    # The frontends only through the load balancer (and so IAP); the workflow's and the
    # scheduler's targets are called with an OIDC token and need run.invoker (below).
    ingress_settings = each.value.public ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
    # The api function reads the Benchling warehouse: all its traffic leaves through the
    # egress VPC and Cloud NAT's reserved address (egress.tf), which the warehouse allowlists.
    direct_vpc_egress = each.key == "api" ? "VPC_EGRESS_ALL_TRAFFIC" : null
    dynamic "direct_vpc_network_interface" {
      for_each = each.key == "api" ? [1] : []
      content {
        network    = google_compute_network.egress.id
        subnetwork = google_compute_subnetwork.egress.id
      }
    }
  }
  depends_on = [google_project_service.services]
}

# prepareRun and reconcileRun are called only by the workflow, sweepStaleRuns only by Cloud
# Scheduler, each with its OIDC identity.
resource "google_cloud_run_service_iam_member" "private_invokers" {
  for_each = { for name, fn in local.http_functions : name => fn if !fn.public }
  location = var.region
  service  = google_cloudfunctions2_function.http[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa[each.value.invoker].email}"
}

# The stale-run sweeper (ARCHITECTURE §3): runs whose events were lost are settled from
# what Batch and Workflows say about them.
resource "google_cloud_scheduler_job" "sweep_stale_runs" {
  name             = "arc-sweep-stale-runs"
  region           = var.region
  schedule         = var.sweep_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"
  retry_config {
    retry_count = 1
  }
  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.http["sweepStaleRuns"].service_config[0].uri
    body        = base64encode("{}")
    headers     = { "Content-Type" = "application/json" }
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = google_cloudfunctions2_function.http["sweepStaleRuns"].service_config[0].uri
    }
  }
  depends_on = [google_project_service.services]
}

resource "google_cloudfunctions2_function" "event" {
  for_each = local.event_functions
  name     = each.key
  location = var.region
  labels   = { arc-release = var.release }

  build_config {
    runtime     = "nodejs20"
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = local.event_function_sizing.memory
    available_cpu                    = local.event_function_sizing.cpu
    max_instance_request_concurrency = local.event_function_sizing.concurrency
    max_instance_count               = local.event_function_sizing.max_instances
    timeout_seconds                  = 120
    service_account_email            = google_service_account.sa["functions"].email
    environment_variables            = merge(local.common_env, { NODE_ENV = "production" })
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = each.value.event_type
    pubsub_topic          = each.value.topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.sa["events"].email
    dynamic "event_filters" {
      for_each = each.value.filters
      content {
        attribute = event_filters.key
        value     = event_filters.value
      }
    }
  }
  depends_on = [google_project_iam_member.gcs_publisher, google_pubsub_topic_iam_member.batch_publisher]
}

resource "google_cloud_run_service_iam_member" "events_invoke" {
  for_each = local.event_functions
  location = var.region
  service  = google_cloudfunctions2_function.event[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["events"].email}"
}

# ---- the workflow -------------------------------------------------------------------

resource "google_workflows_workflow" "run_pipeline" {
  name            = "run-pipeline"
  region          = var.region
  description     = "Runs one Arc Reactor run: prepare, create the Batch job, poll it, reconcile."
  service_account = google_service_account.sa["workflows"].id
  source_contents = file("${path.module}/../workflows/run-pipeline.workflows.yaml")
  depends_on      = [google_project_service.services]
}

# The Benchling warehouse password: Terraform creates the secret, not its value
# (gcloud secrets versions add warehouse-password --data-file=-). Only the functions read it.
resource "google_secret_manager_secret" "warehouse_password" {
  secret_id = "warehouse-password"
  replication {
    auto {}
  }
  depends_on = [google_project_service.services]
}

resource "google_secret_manager_secret_iam_member" "warehouse_password_reader" {
  secret_id = google_secret_manager_secret.warehouse_password.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa["functions"].email}"
}

# The assistant's Anthropic API key: the secret without a value
# (gcloud secrets versions add anthropic-api-key --data-file=-). Until it has one, the
# assistant answers "not configured" and /api/ready reports it disabled.
resource "google_secret_manager_secret" "anthropic_api_key" {
  secret_id = "anthropic-api-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.services]
}

# Only the functions' service account reads it (the api function calls Claude).
# The notifier's email goes through SendGrid (the HAYSTACK spec's channel); add a version
# with the key: gcloud secrets versions add sendgrid-api-key --data-file=-
resource "google_secret_manager_secret" "sendgrid_api_key" {
  secret_id = "sendgrid-api-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.services]
}

resource "google_secret_manager_secret_iam_member" "sendgrid_api_key_reader" {
  secret_id = google_secret_manager_secret.sendgrid_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa["functions"].email}"
}

resource "google_secret_manager_secret_iam_member" "anthropic_api_key_reader" {
  secret_id = google_secret_manager_secret.anthropic_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa["functions"].email}"
}
