//! Targets against actual orders, the variance, and commissions.
//!
//! Actual = Σ net (excl. VAT) of the user's non-cancelled orders dated in
//! the period. Commission tiers are marginal, like tax brackets: with tiers
//! `0 % → 3 %` and `100 % → 5 %` of a 10,000 target, revenue of 12,000 earns
//! 3 % of 10,000 plus 5 % of 2,000. Without a target, all revenue earns the
//! first tier's rate.

use rust_decimal::Decimal;
use serde::Serialize;

use super::Period;
use crate::index::AccountRows;
use crate::model::{Plan, Tier};
use crate::money::{percent_of, round_cents};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetReport {
    pub user: String,
    pub period: String,
    pub currency: String,
    /// Cents; `None` when no target is set for the period.
    pub target: Option<i64>,
    pub actual: i64,
    pub orders: usize,
    /// actual − target.
    pub variance: Option<i64>,
    /// actual / target × 100, two decimals.
    pub attainment_pct: Option<Decimal>,
}

/// The orders target of a period: set for that period exactly, else the
/// sum of the monthly targets inside it (`None` when there are none).
pub fn target_for(plan: &Plan, period: Period) -> Option<i64> {
    super::plan_target(plan, super::Indicator::OrdersValue, period)
}

/// Σ net of `user`'s orders in `period` (cancelled ones excluded), and their count.
pub fn actual_orders(index: &impl AccountRows, user: &str, period: Period) -> (i64, usize) {
    let mut total = 0;
    let mut n = 0;
    for (_, _, rows) in index.account_rows() {
        for o in &rows.orders {
            if o.owner == user
                && o.status != "cancelled"
                && o.date.is_some_and(|d| period.contains(d))
            {
                total += o.net;
                n += 1;
            }
        }
    }
    (total, n)
}

pub fn variance(plan: &Plan, index: &impl AccountRows, user: &str, period: Period) -> TargetReport {
    let target = target_for(plan, period);
    let (actual, orders) = actual_orders(index, user, period);
    TargetReport {
        user: user.to_string(),
        period: period.to_string(),
        currency: plan.currency.clone(),
        target,
        actual,
        orders,
        variance: target.map(|t| actual - t),
        attainment_pct: target.filter(|t| *t > 0).map(|t| {
            (Decimal::from(actual) * Decimal::ONE_HUNDRED / Decimal::from(t))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        }),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierLine {
    pub from_pct: Decimal,
    pub to_pct: Option<Decimal>,
    pub rate: Decimal,
    /// Revenue falling in this tier, cents.
    pub base: i64,
    pub commission: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Commission {
    pub revenue: i64,
    pub target: Option<i64>,
    pub tiers: Vec<TierLine>,
    pub total: i64,
}

/// Marginal commission on `revenue` (cents) against `target`.
pub fn commission(tiers: &[Tier], target: Option<i64>, revenue: i64) -> Commission {
    let mut sorted: Vec<&Tier> = tiers.iter().collect();
    sorted.sort_by_key(|t| t.from_pct);
    let mut lines = Vec::new();
    match target.filter(|t| *t > 0) {
        None => {
            if let Some(t) = sorted.first() {
                lines.push(TierLine {
                    from_pct: t.from_pct,
                    to_pct: None,
                    rate: t.rate,
                    base: revenue,
                    commission: percent_of(revenue, t.rate),
                });
            }
        }
        Some(target) => {
            let threshold =
                |pct: Decimal| round_cents(Decimal::from(target) * pct / Decimal::ONE_HUNDRED);
            for (i, t) in sorted.iter().enumerate() {
                let lo = threshold(t.from_pct);
                let next = sorted.get(i + 1).map(|n| n.from_pct);
                let hi = next.map(threshold);
                let base = match hi {
                    Some(hi) => revenue.min(hi) - lo,
                    None => revenue - lo,
                }
                .max(0);
                lines.push(TierLine {
                    from_pct: t.from_pct,
                    to_pct: next,
                    rate: t.rate,
                    base,
                    commission: percent_of(base, t.rate),
                });
            }
        }
    }
    Commission {
        revenue,
        target,
        total: lines.iter().map(|l| l.commission).sum(),
        tiers: lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn tier(from: &str, rate: &str) -> Tier {
        Tier {
            id: from.to_string(),
            from_pct: Decimal::from_str(from).unwrap(),
            rate: Decimal::from_str(rate).unwrap(),
        }
    }

    #[test]
    fn commission_tiers_are_marginal() {
        let tiers = vec![tier("100", "5"), tier("0", "3"), tier("120", "8")];
        // target 10,000.00; revenue 13,000.00
        let c = commission(&tiers, Some(1_000_000), 1_300_000);
        let bases: Vec<i64> = c.tiers.iter().map(|t| t.base).collect();
        assert_eq!(bases, vec![1_000_000, 200_000, 100_000]);
        // 300.00 + 100.00 + 80.00
        assert_eq!(c.total, 30_000 + 10_000 + 8_000);
    }

    #[test]
    fn commission_below_first_threshold_earns_nothing_in_upper_tiers() {
        let tiers = vec![tier("0", "3"), tier("100", "5")];
        let c = commission(&tiers, Some(1_000_000), 500_000);
        assert_eq!(c.tiers[1].base, 0);
        assert_eq!(c.total, 15_000);
        // a plan that only pays from 80 % of target
        let c = commission(&[tier("80", "10")], Some(1_000_000), 900_000);
        assert_eq!(c.total, 10_000);
        let c = commission(&[tier("80", "10")], Some(1_000_000), 700_000);
        assert_eq!(c.total, 0);
    }

    #[test]
    fn commission_without_target_uses_first_tier_and_without_tiers_is_zero() {
        let c = commission(&[tier("0", "2.5"), tier("100", "5")], None, 123_456);
        assert_eq!(c.total, 3_086); // 3086.4 cents → 3086
        assert_eq!(commission(&[], Some(100), 1000).total, 0);
    }

    #[test]
    fn target_of_a_quarter_sums_its_months_unless_set_directly() {
        let mut plan = Plan::default();
        plan.targets.insert("2026-10".into(), 100);
        plan.targets.insert("2026-11".into(), 200);
        assert_eq!(target_for(&plan, "2026-Q4".parse().unwrap()), Some(300));
        plan.targets.insert("2026-Q4".into(), 1000);
        assert_eq!(target_for(&plan, "2026-Q4".parse().unwrap()), Some(1000));
        assert_eq!(target_for(&plan, "2026-12".parse().unwrap()), None);
        assert_eq!(target_for(&plan, "2025".parse().unwrap()), None);
    }
}
