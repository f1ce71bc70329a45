//! `carnet product`, `carnet company` and `carnet stages`: the catalog and the settings.

use anyhow::Result;
use carnet_core::text::Label;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{open, Cli};

#[derive(Subcommand)]
pub enum ProductCmd {
    /// Add a product; prints its id.
    Add {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        name: String,
        /// Unit price excl. VAT.
        #[arg(long)]
        price: String,
        #[arg(long, default_value = "20")]
        vat: String,
        #[arg(long)]
        category: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn product(cli: &Cli, out: Out, cmd: &ProductCmd) -> Result<()> {
    match cmd {
        ProductCmd::Add {
            sku,
            name,
            price,
            vat,
            category,
        } => {
            let mut d = open(cli)?;
            let mut f = vec![
                ("sku", sku.clone()),
                ("name", name.clone()),
                ("unit_price", price.clone()),
                ("vat_rate", vat.clone()),
            ];
            if let Some(c) = category {
                f.push(("category", c.clone()));
            }
            println!("{}", d.add_product(&f)?);
            Ok(())
        }
        ProductCmd::List { json } => {
            let d = open(cli)?;
            let products = &d.catalog().products;
            if *json {
                return print_json(products);
            }
            let mut tb = out.table(
                &[
                    out.t(Label::Sku),
                    out.t(Label::Name),
                    out.t(Label::Price),
                    out.t(Label::Vat),
                ],
                &[2, 3],
            );
            for p in products {
                tb.add_row(vec![
                    p.sku.clone(),
                    p.name.clone(),
                    out.amount(p.unit_price, &p.currency),
                    out.number(p.vat_rate),
                ]);
            }
            println!("{tb}");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum CompanyCmd {
    /// The company's fields.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set one: name, legal_form, share_capital, address, postcode, city,
    /// siren, siret, rcs_city, vat_number, phone, email, payment_terms,
    /// late_penalty_rate ("" clears it).
    Set { field: String, value: String },
    /// The letterhead's logo: a PNG or JPEG of the library (title or id),
    /// downloaded here first (`carnet library fetch`); "" removes it.
    Logo { what: String },
}

pub fn company(cli: &Cli, out: Out, cmd: &CompanyCmd) -> Result<()> {
    match cmd {
        CompanyCmd::Show { json } => {
            let d = open(cli)?;
            let c = &d.settings().company;
            if *json {
                return print_json(c);
            }
            let amount = |v: Option<i64>| {
                v.map(|c| out.amount(c, &d.settings().currency))
                    .unwrap_or_default()
            };
            for (k, v) in [
                ("name", c.name.clone()),
                ("legal_form", c.legal_form.clone()),
                ("share_capital", amount(c.share_capital)),
                ("address", c.address.clone()),
                ("postcode", c.postcode.clone()),
                ("city", c.city.clone()),
                ("siren", c.siren.clone()),
                ("siret", c.siret.clone()),
                ("rcs_city", c.rcs_city.clone()),
                ("vat_number", c.vat_number.clone()),
                ("phone", c.phone.clone()),
                ("email", c.email.clone()),
                ("payment_terms", c.payment_terms.clone()),
                (
                    "late_penalty_rate",
                    c.late_penalty_rate.map(|r| out.rate(r)).unwrap_or_default(),
                ),
                ("logo", c.logo.clone().unwrap_or_default()),
            ] {
                println!("{k:<18} {v}");
            }
            Ok(())
        }
        CompanyCmd::Set { field, value } => {
            let mut d = open(cli)?;
            d.set_company_field(field, value)?;
            Ok(())
        }
        CompanyCmd::Logo { what } => {
            let mut d = open(cli)?;
            d.set_logo(what)?;
            Ok(())
        }
    }
}

pub fn stages(cli: &Cli, out: Out, json: bool) -> Result<()> {
    let d = open(cli)?;
    if json {
        return print_json(&d.settings().stages);
    }
    let mut tb = out.table(
        &[out.t(Label::Code), out.t(Label::Stage), out.t(Label::Prob)],
        &[2],
    );
    for s in &d.settings().stages {
        tb.add_row(vec![
            s.code.clone(),
            s.label.clone(),
            out.rate(s.probability),
        ]);
    }
    println!("{tb}");
    Ok(())
}
