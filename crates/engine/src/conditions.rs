//! Harvester-style conditions: set one, touching times only when something
//! changed (`lastTransitionTime` only when the status flips).

use vmbackup_api::Extra;
use vmbackup_api::harvester::Condition;

/// Sets condition `type_` in `conditions` to the given state.
pub fn set(
    conditions: &mut Option<Vec<Condition>>,
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: &str,
    now: &str,
) {
    let list = conditions.get_or_insert_with(Vec::new);
    let status_text = if status { "True" } else { "False" };
    let reason = reason.filter(|r| !r.is_empty()).map(str::to_owned);
    let message = (!message.is_empty()).then(|| message.to_owned());
    match list.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            let same = c.status == status_text && c.reason == reason && c.message == message;
            if same {
                return;
            }
            if c.status != status_text {
                c.last_transition_time = Some(now.to_owned());
            }
            c.status = status_text.to_owned();
            c.reason = reason;
            c.message = message;
            c.last_update_time = Some(now.to_owned());
        }
        None => list.push(Condition {
            type_: type_.to_owned(),
            status: status_text.to_owned(),
            last_update_time: Some(now.to_owned()),
            last_transition_time: Some(now.to_owned()),
            reason,
            message,
            extra: Extra::default(),
        }),
    }
}

/// Condition `type_`, if present.
pub fn get<'a>(conditions: Option<&'a Vec<Condition>>, type_: &str) -> Option<&'a Condition> {
    conditions?.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_move_only_on_change() {
        let mut list = None;
        set(&mut list, "Ready", false, None, "Not ready", "t1");
        set(&mut list, "Ready", false, None, "Not ready", "t2");
        let c = get(list.as_ref(), "Ready").unwrap();
        assert_eq!(c.last_update_time.as_deref(), Some("t1"));
        set(&mut list, "Ready", false, Some("x"), "Not ready", "t3");
        let c = get(list.as_ref(), "Ready").unwrap();
        assert_eq!(c.last_update_time.as_deref(), Some("t3"));
        assert_eq!(c.last_transition_time.as_deref(), Some("t1"));
        set(&mut list, "Ready", true, None, "Operation complete", "t4");
        let c = get(list.as_ref(), "Ready").unwrap();
        assert_eq!(c.last_transition_time.as_deref(), Some("t4"));
        assert!(c.is_true());
    }
}
