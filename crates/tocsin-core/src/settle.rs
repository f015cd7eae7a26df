//! Settling a batch of ruled signals: which of them declare an incident, which join one,
//! and which are only kept on record. Pure: the caller looks up the groups' open
//! incidents first and carries out the steps after.

use std::collections::HashMap;

use crate::incident::IncidentNumber;
use crate::signal::Disposition;

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// An incident that was open before the batch.
    Open(IncidentNumber),
    /// The incident the signal at this index of the batch declares.
    Declared(usize),
}

/// What a batch comes to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Per signal of the batch, the incident it goes to; `None` when it is only recorded.
    pub targets: Vec<Option<Target>>,
    /// The signals that declare an incident, in the batch's order.
    pub declares: Vec<usize>,
    /// The signals that join each incident, in the order incidents were first joined: each
    /// incident is told of its list in one note, and its severity raised at most once.
    pub joins: Vec<(Target, Vec<usize>)>,
}

/// Settles signals, each given as its disposition and its group, in order. `open` holds the
/// incident open before the batch for each group a signal that is not only recorded
/// belongs to (`None`: no incident is open for it). A signal joins its group's incident,
/// whether it was open before or declared earlier in the batch; failing that, one that
/// opens declares an incident, and the rest are only recorded.
pub fn settle<'a>(
    signals: impl IntoIterator<Item = (Disposition, &'a str)>,
    open: &HashMap<&str, Option<IncidentNumber>>,
) -> Settlement {
    let mut settlement = Settlement::default();
    let mut groups: HashMap<&str, Option<Target>> = HashMap::new();
    for (index, (disposition, group)) in signals.into_iter().enumerate() {
        if disposition == Disposition::Record {
            settlement.targets.push(None);
            continue;
        }
        let current = *groups
            .entry(group)
            .or_insert_with(|| open.get(group).copied().flatten().map(Target::Open));
        let target = match (disposition, current) {
            (_, Some(target)) => {
                match settlement.joins.iter_mut().find(|(t, _)| *t == target) {
                    Some((_, list)) => list.push(index),
                    None => settlement.joins.push((target, vec![index])),
                }
                Some(target)
            }
            (Disposition::Open, None) => {
                settlement.declares.push(index);
                Some(Target::Declared(index))
            }
            _ => None,
        };
        groups.insert(group, target);
        settlement.targets.push(target);
    }
    settlement
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: u64) -> IncidentNumber {
        IncidentNumber::new(n).unwrap()
    }

    #[test]
    fn a_batch_declares_once_per_group_and_the_rest_join() {
        use Disposition::{Join, Open, Record};
        let open = HashMap::from([("source:a", None), ("source:b", Some(number(7))), ("source:c", None)]);
        let batch = [
            (Open, "source:a"),
            (Record, "source:a"),
            (Open, "source:a"),
            (Join, "source:b"),
            (Join, "source:c"),
            (Open, "source:c"),
            (Join, "source:c"),
        ];
        let settled = settle(batch, &open);
        assert_eq!(
            settled.targets,
            [
                Some(Target::Declared(0)),
                None,
                Some(Target::Declared(0)),
                Some(Target::Open(number(7))),
                None,
                Some(Target::Declared(5)),
                Some(Target::Declared(5)),
            ]
        );
        assert_eq!(settled.declares, [0, 5]);
        assert_eq!(
            settled.joins,
            [
                (Target::Declared(0), vec![2]),
                (Target::Open(number(7)), vec![3]),
                (Target::Declared(5), vec![6]),
            ]
        );
    }
}
