output "api_url" {
  description = "URL of the api function (put it behind the IAP load balancer)."
  value       = google_cloudfunctions2_function.http["api"].service_config[0].uri
}

output "runs_bucket" {
  value = google_storage_bucket.runs.name
}

output "workflow" {
  value = google_workflows_workflow.run_pipeline.id
}
