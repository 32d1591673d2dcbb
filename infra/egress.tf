# ---- a fixed egress address for the warehouse allowlist -----------------------------
#
# The Benchling warehouse admits only allowlisted addresses. The functions that read it (api;
# the others never connect) send their traffic through this VPC (Direct VPC egress, all
# traffic) and out through Cloud NAT on one reserved address: the `egress_ip` output, which is
# what the warehouse's administrators add to their allowlist.

resource "google_compute_network" "egress" {
  name                    = "arc-egress"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.services]
}

resource "google_compute_subnetwork" "egress" {
  name                     = "arc-egress-${var.region}"
  region                   = var.region
  network                  = google_compute_network.egress.id
  ip_cidr_range            = var.egress_subnet_cidr
  private_ip_google_access = true
}

resource "google_compute_address" "egress" {
  name   = "arc-egress"
  region = var.region
}

resource "google_compute_router" "egress" {
  name    = "arc-egress"
  region  = var.region
  network = google_compute_network.egress.id
}

resource "google_compute_router_nat" "egress" {
  name                               = "arc-egress"
  router                             = google_compute_router.egress.name
  region                             = var.region
  nat_ip_allocate_option             = "MANUAL_ONLY"
  nat_ips                            = [google_compute_address.egress.self_link]
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"
  subnetwork {
    name                    = google_compute_subnetwork.egress.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }
  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}
