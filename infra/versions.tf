terraform {
  required_version = ">= 1.6"
  # State in a versioned bucket of the project; `npm run deploy` creates it and passes
  # -backend-config=bucket=PROJECT-arc-tfstate.
  backend "gcs" {}
  required_providers {
    google = {
      source = "hashicorp/google"
      # 7.21: Direct VPC egress for 2nd gen functions (the api function's fixed egress address).
      version = ">= 7.21, < 8"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
