# ---- the front door: one HTTPS load balancer, IAP on every backend --------------------
#
# https://{domain}/api/v1/*  → the haystack function (HAYSTACK's API)
# https://{domain}/*         → the api function (the API under /api, and the page)
# Each backend is a serverless NEG for a function's Cloud Run service, with IAP on it. The
# functions accept traffic only from the load balancer (ingress ALLOW_INTERNAL_AND_GCLB) and
# only from IAP's service agent (run.invoker), so nothing reaches them around IAP.

locals {
  # The functions a user reaches, by the backend that serves them.
  frontends = {
    api      = "api"
    haystack = "haystack"
  }
  iap_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"
}

resource "google_compute_global_address" "frontend" {
  name       = "arc-frontend"
  depends_on = [google_project_service.services]
}

resource "google_compute_managed_ssl_certificate" "frontend" {
  name = "arc-frontend"
  managed {
    domains = [var.domain]
  }
  depends_on = [google_project_service.services]
}

# Gen2 functions run as Cloud Run services named after the function: the NEG names the service
# (not the function resource), so the functions' IAP_AUDIENCE can name the backend without a cycle.
resource "google_compute_region_network_endpoint_group" "frontend" {
  for_each              = local.frontends
  name                  = "arc-${each.key}-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    service = lower(each.value)
  }
  depends_on = [google_project_service.services]
}

resource "google_compute_backend_service" "frontend" {
  for_each              = local.frontends
  name                  = "arc-${each.key}"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  backend {
    group = google_compute_region_network_endpoint_group.frontend[each.key].id
  }
  # Every request is signed in by IAP; the functions verify its JWT (IAP_AUDIENCE).
  iap {
    enabled = true
  }
  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "frontend" {
  name            = "arc-frontend"
  default_service = google_compute_backend_service.frontend["api"].id
  host_rule {
    hosts        = [var.domain]
    path_matcher = "arc"
  }
  path_matcher {
    name            = "arc"
    default_service = google_compute_backend_service.frontend["api"].id
    path_rule {
      paths   = ["/api/v1", "/api/v1/*"]
      service = google_compute_backend_service.frontend["haystack"].id
    }
  }
}

resource "google_compute_target_https_proxy" "frontend" {
  name             = "arc-frontend"
  url_map          = google_compute_url_map.frontend.id
  ssl_certificates = [google_compute_managed_ssl_certificate.frontend.id]
}

resource "google_compute_global_forwarding_rule" "frontend" {
  name                  = "arc-frontend"
  target                = google_compute_target_https_proxy.frontend.id
  port_range            = "443"
  ip_address            = google_compute_global_address.frontend.address
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

# Who may sign in: the allow-list (user:…, group:…, domain:…), on each backend.
resource "google_iap_web_backend_service_iam_member" "users" {
  for_each = {
    for pair in setproduct(keys(local.frontends), var.iap_members) : "${pair[0]}/${pair[1]}" => {
      backend = pair[0]
      member  = pair[1]
    }
  }
  web_backend_service = google_compute_backend_service.frontend[each.value.backend].name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value.member
}

# IAP calls the functions with its service agent's identity: the only invoker of the frontends.
resource "google_cloud_run_service_iam_member" "iap_invokes_frontends" {
  for_each = local.frontends
  location = var.region
  service  = google_cloudfunctions2_function.http[each.value].service_config[0].service
  role     = "roles/run.invoker"
  member   = local.iap_service_agent
}
