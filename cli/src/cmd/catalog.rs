//! `carnet product` and `carnet stages`: the catalog and the settings.

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
