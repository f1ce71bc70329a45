//! Orders handed to accounting for a period (`carnet_core::accounting`):
//! the admin's `export orders` command and the managers' export in the web
//! app. Documents are read one at a time from their slots; only files
//! whose index rows hold an order of the period are opened.

use carnet_core::accounting::{self, OrderOut};
use carnet_core::model::AccountFile;
use carnet_core::reports::Period;
use carnet_core::{DocId, DocKind};

use super::{Tenant, TenantError};

/// The most orders one export holds: a longer period is refused with a
/// clear error (ask for months one at a time).
pub const MAX_EXPORT_ORDERS: usize = 10_000;

impl Tenant {
    /// The orders dated in `period`, of every file (`viewer` `None`: an
    /// admin command) or of those `viewer` may see, by date then number.
    pub async fn export_orders(
        &self,
        period: Period,
        viewer: Option<&str>,
    ) -> Result<Vec<OrderOut>, TenantError> {
        let mut docs: Vec<DocId> = Vec::new();
        let mut count = 0usize;
        self.for_each_row(|doc, rows| {
            let n = rows
                .orders
                .iter()
                .filter(|o| o.date.is_some_and(|d| period.contains(d)))
                .count();
            if n > 0 {
                docs.push(doc);
                count += n;
            }
        });
        if count > MAX_EXPORT_ORDERS {
            return Err(TenantError::Invalid(format!(
                "{count} orders in {period}: more than {MAX_EXPORT_ORDERS} in one export, ask for a shorter period"
            )));
        }
        if let Some(user) = viewer {
            docs.retain(|d| self.visible(user, *d));
        }
        let settings = self.edit_parts().settings.clone();
        let mut out = Vec::with_capacity(count);
        for doc in docs {
            let slot = self.slot(doc).await?;
            let mut slot = slot.lock().await;
            let Some(d) = slot.doc.as_mut().filter(|d| d.kind() == DocKind::Account) else {
                continue;
            };
            let file = AccountFile::read(d).map_err(|e| TenantError::Invalid(e.to_string()))?;
            for o in file
                .orders
                .iter()
                .filter(|o| o.date.is_some_and(|d| period.contains(d)))
            {
                let quote = file.quote_number_of(o);
                out.push(accounting::order_out(&settings, &file.account, o, quote));
            }
        }
        out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.number.cmp(&b.number)));
        Ok(out)
    }
}
