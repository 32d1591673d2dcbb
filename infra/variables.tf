variable "project" {
  description = "GCP project id that runs Arc Reactor."
  type        = string
}

variable "region" {
  description = "Region for functions, Batch jobs, Workflows and the bucket."
  type        = string
  default     = "us-central1"
}

variable "runs_bucket" {
  description = "Bucket for run inputs, logs, results, Nextflow work dirs (work/) and cache (cache/)."
  type        = string
}

variable "work_retention_days" {
  description = "Nextflow work dirs and caches are deleted after this many days; a run older than this cannot be resumed."
  type        = number
  default     = 30
}

variable "orchestrator_image" {
  description = "The orchestrator image (built from orchestrator/Dockerfile and pushed to the arc-reactor repository)."
  type        = string
}

variable "firebase_web_api_key" {
  description = "The Firebase web API key of the project (Project settings → General). The page signs in to Firestore with it and the custom token from /api/session/token. Not a secret."
  type        = string
  default     = ""
}

variable "admin_emails" {
  description = "Administrators: they see every user's runs."
  type        = list(string)
  default     = []
}

variable "functions_source_dir" {
  description = "Where `npm run build` put the function bundles."
  type        = string
  default     = "../dist/functions"
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the stale-run sweeper."
  type        = string
  default     = "*/5 * * * *"
}

variable "iap_audiences" {
  description = "Audiences IAP signs for, e.g. /projects/{number}/global/backendServices/{id} (see the backend service of the load balancer)."
  type        = list(string)
}

variable "iap_hosted_domain" {
  description = "Only accounts of this Google Workspace domain may sign in (empty: any account IAP admits)."
  type        = string
  default     = ""
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API (empty: none; the page is same-origin)."
  type        = list(string)
  default     = []
}

variable "warehouse_host" {
  description = "Host of the Benchling data warehouse (PostgreSQL); empty leaves the Benchling features off."
  type        = string
  default     = ""
}

variable "warehouse_port" {
  description = "Port of the Benchling data warehouse."
  type        = number
  default     = 5432
}

variable "warehouse_database" {
  description = "Database of the Benchling data warehouse."
  type        = string
  default     = "warehouse"
}

variable "warehouse_user" {
  description = "Read-only warehouse user; its password goes in the warehouse-password secret."
  type        = string
  default     = "arc_reader"
}

variable "warehouse_mapping" {
  description = "JSON: table and column names that differ from the defaults (see README, Benchling warehouse)."
  type        = string
  default     = ""
}

variable "anthropic_model" {
  description = "The Claude model the assistant uses. The spec's claude-sonnet-4-5-20250929 is retired by Anthropic on 2026-11-30: set a current model id."
  type        = string
  default     = "claude-sonnet-4-5-20250929"
}

variable "run_event_subscribers" {
  description = "Principals (user:, group:, serviceAccount:) that may subscribe to arc-run-events"
  type        = list(string)
  default     = []
}

variable "public_url" {
  description = "The page's address (links in notifications), e.g. https://arc.example.org"
  type        = string
}

variable "notify_from_email" {
  description = "The sender of notification email: an address SendGrid has verified"
  type        = string
}
