//! The pipeline by stage, with amounts weighted by probability (the deal's
//! own when the rep overrode it, else the stage's default).

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::Scope;
use crate::index::{AccountRows, DealRow};
use crate::model::{Settings, StageOutcome};
use crate::money::percent_of;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineStage {
    pub code: String,
    pub label: String,
    pub outcome: StageOutcome,
    pub probability: Decimal,
    pub count: usize,
    /// Cents.
    pub amount: i64,
    /// Σ amount × probability, each rounded half-up to the cent.
    pub weighted: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pipeline {
    pub currency: String,
    pub stages: Vec<PipelineStage>,
    pub open_count: usize,
    pub open_amount: i64,
    pub open_weighted: i64,
}

/// The probability that applies to a deal.
pub fn deal_probability(deal: &DealRow, settings: &Settings) -> Decimal {
    deal.probability.unwrap_or_else(|| {
        settings
            .stage(&deal.stage)
            .map(|s| s.probability)
            .unwrap_or(Decimal::ZERO)
    })
}

pub fn pipeline(index: &impl AccountRows, settings: &Settings, scope: &Scope) -> Pipeline {
    let mut stages: Vec<PipelineStage> = settings
        .stages
        .iter()
        .map(|s| PipelineStage {
            code: s.code.clone(),
            label: s.label.clone(),
            outcome: s.outcome,
            probability: s.probability,
            count: 0,
            amount: 0,
            weighted: 0,
        })
        .collect();
    let mut position: HashMap<String, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code.clone(), i))
        .collect();
    for (_, _, rows) in index.account_rows() {
        for d in rows.deals.iter().filter(|d| scope.covers(&d.owner)) {
            let pos = match position.get(d.stage.as_str()).copied() {
                Some(p) => p,
                None => {
                    // A stage since removed from settings: shown, never dropped.
                    stages.push(PipelineStage {
                        code: d.stage.clone(),
                        label: d.stage.clone(),
                        outcome: StageOutcome::Open,
                        probability: Decimal::ZERO,
                        count: 0,
                        amount: 0,
                        weighted: 0,
                    });
                    position.insert(d.stage.clone(), stages.len() - 1);
                    stages.len() - 1
                }
            };
            let s = &mut stages[pos];
            s.count += 1;
            s.amount += d.amount;
            s.weighted += percent_of(d.amount, d.probability.unwrap_or(s.probability));
        }
    }
    let open = stages.iter().filter(|s| s.outcome == StageOutcome::Open);
    Pipeline {
        currency: settings.currency.clone(),
        open_count: open.clone().map(|s| s.count).sum(),
        open_amount: open.clone().map(|s| s.amount).sum(),
        open_weighted: open.map(|s| s.weighted).sum(),
        stages,
    }
}
