//! Reports computed from the index only (never by loading documents): the
//! to-do list, the pipeline, the weighted forecast, targets against actual
//! orders with the variance, and commissions. Pure functions of the index,
//! the settings and the dates passed in, so they are tested without a store.

mod dashboard;
mod forecast;
mod period;
mod pipeline;
mod quality;
mod targets;
mod todo;

pub use dashboard::{
    dashboard, dashboard_of, plan_target, scope_target, ChartPoint, DashScope, Dashboard, Figure,
    Indicator, Tallies, Unit,
};
pub use forecast::{forecast, Forecast, ForecastBucket};
pub use period::Period;
pub use pipeline::{deal_probability, pipeline, Pipeline, PipelineStage};
pub use quality::{
    dormant_prospects, field_decay, quality, stale_accounts, staleness, Dormant, Quality,
    StaleAccount, Undeliverable, DORMANT_AFTER_DAYS, STALE_AFTER_DAYS, YEARLY_DECAY,
};
pub use targets::{
    actual_orders, commission, target_for, variance, Commission, TargetReport, TierLine,
};
pub use todo::{my_day, todo, MyDay, TodoItem};

/// Whose records a report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One user's (deals they own, actions assigned to them).
    User(String),
    /// Everything in the store.
    All,
}

impl Scope {
    pub fn covers(&self, who: &str) -> bool {
        match self {
            Scope::User(u) => u == who,
            Scope::All => true,
        }
    }
}
