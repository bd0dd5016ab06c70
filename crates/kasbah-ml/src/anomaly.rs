//! Per-entity anomaly detection over template ids (filled in below).
