//! Typed views of documents, read field by field from a `CrmDoc` (never
//! written back as a whole: writes go through `doc::CrmDoc::put_field`).
//! Reading is lenient: a missing or malformed optional field reads as empty,
//! so a document from a newer or older app still opens.

pub mod account;
pub mod email;
pub mod input;
pub mod library;
pub mod quote;
pub mod settings;
pub mod view;

pub use account::{Account, AccountFile, Action, Contact, Deal, Note};
pub use email::Email;
pub use input::{NewAccount, NewAction, NewContact, NewDeal, NewQuote, NewQuoteLine, VisitReport};
pub use library::LibraryItem;
pub use quote::{Line, Order, Quote, Totals, VatLine};
pub use settings::{Catalog, Directory, Plan, Product, Settings, Stage, StageOutcome, Tier, User};

pub use view::Rec;
