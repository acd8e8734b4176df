//! Splitting a phase's N across agents in proportion to their capacity, each
//! share a contiguous `request_id` range, together covering `0..N` once.

/// `(first_request_id, count)` per agent, in the order of `capacities`.
/// Largest-remainder apportionment: counts differ from the exact proportion
/// by less than one session. A capacity of 0 counts as 1.
pub fn split(n: u64, capacities: &[u64]) -> Vec<(u64, u64)> {
    if capacities.is_empty() {
        return Vec::new();
    }
    let caps: Vec<u128> = capacities.iter().map(|c| u128::from((*c).max(1))).collect();
    let total: u128 = caps.iter().sum();
    let n128 = u128::from(n);
    let mut counts: Vec<u64> = caps.iter().map(|c| (n128 * c / total) as u64).collect();
    let mut left = n - counts.iter().sum::<u64>();
    // Hand the remainder to the largest fractional parts (ties: earlier first).
    let mut order: Vec<usize> = (0..caps.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(n128 * caps[i] % total));
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    let mut first = 0;
    counts
        .into_iter()
        .map(|c| {
            let share = (first, c);
            first += c;
            share
        })
        .collect()
}

/// [`split`] in whole groups of `group` sessions (a GRPO group runs on one
/// agent, in lockstep), the last group short when `n` is not a multiple.
pub fn split_groups(n: u64, group: u64, capacities: &[u64]) -> Vec<(u64, u64)> {
    let group = group.max(1);
    split(n.div_ceil(group), capacities)
        .into_iter()
        .map(|(first, count)| {
            let lo = (first * group).min(n);
            let hi = ((first + count) * group).min(n);
            (lo, hi - lo)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{split, split_groups};

    #[test]
    fn groups_stay_on_one_agent() {
        assert_eq!(split_groups(20, 8, &[1, 1]), vec![(0, 16), (16, 4)]);
        assert_eq!(split_groups(10, 1, &[1, 1, 1]), split(10, &[1, 1, 1]));
    }

    #[test]
    fn proportional_contiguous_and_complete() {
        let s = split(100, &[1, 3]);
        assert_eq!(s, vec![(0, 25), (25, 75)]);
        let s = split(10, &[1, 1, 1]);
        assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), 10);
        assert_eq!(s, vec![(0, 4), (4, 3), (7, 3)]);
    }

    #[test]
    fn fewer_sessions_than_agents_and_zero_capacity() {
        assert_eq!(
            split(2, &[4, 4, 4]).iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![1, 1, 0]
        );
        assert_eq!(split(5, &[0, 0]), vec![(0, 3), (3, 2)]);
        assert!(split(5, &[]).is_empty());
    }

    #[test]
    fn ranges_tile_zero_to_n_for_many_shapes() {
        for n in [1u64, 7, 1000, 16384] {
            for caps in [vec![1u64], vec![2, 3, 5], vec![48, 48, 1, 7]] {
                let s = split(n, &caps);
                let mut next = 0;
                for (first, count) in s {
                    assert_eq!(first, next);
                    next += count;
                }
                assert_eq!(next, n);
            }
        }
    }
}
