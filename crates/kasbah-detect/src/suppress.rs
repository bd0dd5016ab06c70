//! Suppressions: analyst decisions that alerts of a rule (or of all rules) about an entity (or
//! about anything) are not raised until a time, with a reason.

use kasbah_meta::{NewAlert, Suppression};

/// The first live suppression that covers `alert` at `now` (ns), if any.
pub fn covering<'s>(
    list: &'s [Suppression],
    alert: &NewAlert,
    now: i64,
) -> Option<&'s Suppression> {
    list.iter().find(|s| {
        let r = &s.rule;
        r.tenant == alert.tenant
            && r.expires_at.is_none_or(|e| e > now)
            && r.rule_id.as_ref().is_none_or(|id| *id == alert.rule_id)
            && r.entity.as_ref().is_none_or(|e| alert.entities.contains(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::{Entity, EntityKind, TenantId};
    use kasbah_meta::{AlertKind, NewSuppression};

    fn alert(rule: &str, host: &str) -> NewAlert {
        NewAlert {
            tenant: TenantId(1),
            rule_id: rule.into(),
            rule_title: rule.into(),
            level: "high".into(),
            tags: vec![],
            kind: AlertKind::Detection,
            entities: vec![Entity::new(EntityKind::Host, host)],
            dedup_key: rule.into(),
            first_seen: 0,
            last_seen: 0,
            count: 1,
            event_ids: vec![],
            retro: false,
            details: "{}".into(),
        }
    }

    fn sup(
        id: i64,
        tenant: u32,
        rule: Option<&str>,
        host: Option<&str>,
        expires: Option<i64>,
    ) -> Suppression {
        Suppression {
            id,
            rule: NewSuppression {
                tenant: TenantId(tenant),
                rule_id: rule.map(Into::into),
                entity: host.map(|h| Entity::new(EntityKind::Host, h)),
                reason: "scanner".into(),
                created_by: "t".into(),
                expires_at: expires,
            },
            created_at: 0,
            hits: 0,
        }
    }

    #[test]
    fn matches_rule_entity_tenant_and_expiry() {
        let list = vec![
            sup(1, 2, None, None, None),
            sup(2, 1, Some("r1"), Some("scan-01"), Some(100)),
            sup(3, 1, None, Some("backup"), None),
        ];
        assert_eq!(
            covering(&list, &alert("r1", "scan-01"), 50).map(|s| s.id),
            Some(2)
        );
        assert_eq!(
            covering(&list, &alert("r1", "scan-01"), 100).map(|s| s.id),
            None,
            "expired"
        );
        assert_eq!(
            covering(&list, &alert("r2", "scan-01"), 50).map(|s| s.id),
            None
        );
        assert_eq!(
            covering(&list, &alert("r9", "backup"), 50).map(|s| s.id),
            Some(3)
        );
        assert_eq!(
            covering(&list, &alert("r9", "ws"), 50).map(|s| s.id),
            None,
            "other tenant's suppression"
        );
    }
}
