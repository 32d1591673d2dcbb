# ---- deploying from GitHub Actions without a key file -------------------------------
#
# .github/workflows/deploy.yml exchanges GitHub's OIDC token for the arc-deployer service
# account through this pool; only workflows of var.github_repository may. Empty: none of it.

locals {
  ci = var.github_repository == "" ? {} : { github = var.github_repository }
  # What a deploy creates and changes (the same as DEPLOYER_ROLES in scripts/deploy/prerequisites.ts).
  deployer_roles = length(local.ci) == 0 ? {} : {
    # Creates and updates every resource in infra/.
    editor = "roles/editor"
    # Grants the platform's service accounts their roles.
    iam = "roles/resourcemanager.projectIamAdmin"
    # Creates the service accounts and lets identities act as them.
    accounts = "roles/iam.serviceAccountAdmin"
    # Turns IAP on for the backends and grants its access.
    iap = "roles/iap.admin"
    # Creates the secrets and their access (never their values).
    secrets = "roles/secretmanager.admin"
    # Sets the functions' invokers.
    run = "roles/run.admin"
  }
}

resource "google_iam_workload_identity_pool" "ci" {
  for_each                  = local.ci
  workload_identity_pool_id = "arc-ci"
  display_name              = "Arc Reactor CI"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  for_each                           = local.ci
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci["github"].workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub Actions"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Only this repository's tags: a fork or a branch cannot deploy.
  attribute_condition = "assertion.repository == \"${var.github_repository}\" && assertion.ref.startsWith(\"refs/tags/v\")"
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  for_each     = local.ci
  account_id   = "arc-deployer"
  display_name = "Arc Reactor deploys from GitHub Actions"
}

resource "google_service_account_iam_member" "deployer_from_github" {
  for_each           = local.ci
  service_account_id = google_service_account.deployer["github"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci["github"].name}/attribute.repository/${var.github_repository}"
}

resource "google_project_iam_member" "deployer" {
  for_each = local.deployer_roles
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.deployer["github"].email}"
}
