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

variable "domain" {
  description = "The page's and the API's domain, e.g. arc.example.org: its DNS A record must point at the frontend_ip output for the managed certificate to be issued."
  type        = string
}

variable "iap_members" {
  description = "Who may sign in through IAP: user:alice@example.org, group:lab@example.org, domain:example.org."
  type        = list(string)
  validation {
    condition     = alltrue([for m in var.iap_members : can(regex("^(user|group|domain|serviceAccount):", m))])
    error_message = "Each member starts with user:, group:, domain: or serviceAccount:."
  }
}

variable "egress_subnet_cidr" {
  description = "The egress VPC's subnet (the api function's Direct VPC egress); any /26 or larger unused range."
  type        = string
  default     = "10.8.0.0/26"
}

variable "haystack_agent_image" {
  description = "The HAYSTACK agent image, tagged by commit (cloudbuild.yaml pushes it)."
  type        = string
}

variable "haystack_inference_image" {
  description = "The STACK inference image (orchestrator/haystack/inference, built outside CI: it needs the model weights). GPU quota: one NVIDIA H100 80GB (a3-highgpu-1g) per concurrent model call in the region."
  type        = string
}

variable "alert_emails" {
  description = "Who hears the alerts (runs failing, stale runs swept, event functions erroring, the warehouse unreachable)."
  type        = list(string)
  default     = []
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
  description = "The Claude model the assistant uses (the functions' default; the spec's claude-sonnet-4-5-20250929 was retired by Anthropic on 2026-11-30)."
  type        = string
  default     = "claude-sonnet-5-5"
}

variable "run_event_subscribers" {
  description = "Principals (user:, group:, serviceAccount:) that may subscribe to arc-run-events"
  type        = list(string)
  default     = []
}

variable "public_url" {
  description = "The page's address (links in notifications); empty: https://{domain}/"
  type        = string
  default     = ""
}

variable "notify_from_email" {
  description = "The sender of notification email: an address SendGrid has verified"
  type        = string
}

variable "alert_failed_runs_per_hour" {
  description = "Alert when more runs than this fail within an hour."
  type        = number
  default     = 3
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose v* tags deploy (empty: no CI deployer)."
  type        = string
  default     = ""
}

variable "release" {
  description = "The deployed commit (npm run deploy passes it): the functions' arc-release label, which doctor checks."
  type        = string
  default     = "unreleased"
}

variable "api_min_instances" {
  description = "Warm instances of the api function: a cold start reads Firestore before it answers (about 3x a bare function's). 0 saves the idle cost."
  type        = number
  default     = 1
}

variable "api_max_instances" {
  description = "The most api instances; each serves up to 80 requests at once (ARCHITECTURE §14)."
  type        = number
  default     = 20
}
