//! Suricata EVE mapping (to be completed).
