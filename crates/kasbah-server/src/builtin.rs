//! Kasbah's built-in Sigma rules (`rules/` of the repository), embedded in the binary so a fresh
//! server detects the sample incident with no rule folder configured.

/// The rules, by their path in the repository.
pub const RULES: &[(&str, &str)] = &[
    (
        "rules/kasbah_linux_download_exec_tmp.yml",
        include_str!("../../../rules/kasbah_linux_download_exec_tmp.yml"),
    ),
    (
        "rules/kasbah_linux_log_tampering.yml",
        include_str!("../../../rules/kasbah_linux_log_tampering.yml"),
    ),
    (
        "rules/kasbah_linux_sudo_shadow_read.yml",
        include_str!("../../../rules/kasbah_linux_sudo_shadow_read.yml"),
    ),
    (
        "rules/kasbah_linux_user_created.yml",
        include_str!("../../../rules/kasbah_linux_user_created.yml"),
    ),
    (
        "rules/kasbah_net_c2_port_firewall.yml",
        include_str!("../../../rules/kasbah_net_c2_port_firewall.yml"),
    ),
    (
        "rules/kasbah_net_c2_port_zeek.yml",
        include_str!("../../../rules/kasbah_net_c2_port_zeek.yml"),
    ),
    (
        "rules/kasbah_ssh_brute_force.yml",
        include_str!("../../../rules/kasbah_ssh_brute_force.yml"),
    ),
    (
        "rules/kasbah_ssh_success_after_brute_force.yml",
        include_str!("../../../rules/kasbah_ssh_success_after_brute_force.yml"),
    ),
    (
        "rules/kasbah_web_path_traversal.yml",
        include_str!("../../../rules/kasbah_web_path_traversal.yml"),
    ),
    (
        "rules/kasbah_web_scanner_user_agent.yml",
        include_str!("../../../rules/kasbah_web_scanner_user_agent.yml"),
    ),
    (
        "rules/kasbah_web_shell_access.yml",
        include_str!("../../../rules/kasbah_web_shell_access.yml"),
    ),
    (
        "rules/kasbah_web_sql_injection.yml",
        include_str!("../../../rules/kasbah_web_sql_injection.yml"),
    ),
    (
        "rules/kasbah_win_admin_remote_logon.yml",
        include_str!("../../../rules/kasbah_win_admin_remote_logon.yml"),
    ),
    (
        "rules/kasbah_win_encoded_powershell.yml",
        include_str!("../../../rules/kasbah_win_encoded_powershell.yml"),
    ),
    (
        "rules/kasbah_win_inhibit_recovery.yml",
        include_str!("../../../rules/kasbah_win_inhibit_recovery.yml"),
    ),
    (
        "rules/kasbah_win_log_cleared.yml",
        include_str!("../../../rules/kasbah_win_log_cleared.yml"),
    ),
    (
        "rules/kasbah_win_logon_after_failures.yml",
        include_str!("../../../rules/kasbah_win_logon_after_failures.yml"),
    ),
    (
        "rules/kasbah_win_logon_failure_burst.yml",
        include_str!("../../../rules/kasbah_win_logon_failure_burst.yml"),
    ),
    (
        "rules/kasbah_win_lsass_access.yml",
        include_str!("../../../rules/kasbah_win_lsass_access.yml"),
    ),
    (
        "rules/kasbah_win_mimikatz.yml",
        include_str!("../../../rules/kasbah_win_mimikatz.yml"),
    ),
    (
        "rules/kasbah_win_password_spraying.yml",
        include_str!("../../../rules/kasbah_win_password_spraying.yml"),
    ),
    (
        "rules/kasbah_win_psexec_service.yml",
        include_str!("../../../rules/kasbah_win_psexec_service.yml"),
    ),
    (
        "rules/kasbah_win_suspicious_service_install.yml",
        include_str!("../../../rules/kasbah_win_suspicious_service_install.yml"),
    ),
    (
        "rules/kasbah_win_user_created.yml",
        include_str!("../../../rules/kasbah_win_user_created.yml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_the_folder_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("rules/ exists")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yml"))
            .map(|n| format!("rules/{n}"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = RULES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded, on_disk, "list new rules in builtin.rs");
    }
}
