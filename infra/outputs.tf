output "url" {
  description = "The page and the API, behind IAP."
  value       = "https://${var.domain}/"
}

output "frontend_ip" {
  description = "Point the domain's DNS A record here; the managed certificate is issued once it resolves."
  value       = google_compute_global_address.frontend.address
}

output "egress_ip" {
  description = "The address the api function reaches the Benchling warehouse from: send it to the warehouse's administrators for their allowlist."
  value       = google_compute_address.egress.address
}

output "runs_bucket" {
  value = google_storage_bucket.runs.name
}

output "workflow" {
  value = google_workflows_workflow.run_pipeline.id
}

output "wif_provider" {
  description = "The GitHub Actions variable WIF_PROVIDER (empty without github_repository)."
  value       = var.github_repository == "" ? "" : google_iam_workload_identity_pool_provider.github["github"].name
}

output "deployer_service_account" {
  description = "The GitHub Actions variable DEPLOYER_SERVICE_ACCOUNT (empty without github_repository)."
  value       = var.github_repository == "" ? "" : google_service_account.deployer["github"].email
}
