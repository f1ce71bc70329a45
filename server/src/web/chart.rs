//! Server-rendered SVG charts (no script): bars for the actual of each
//! period, a tick for its target.

use carnet_core::reports::{ChartPoint, Unit};
use carnet_core::text::Lang;
use maud::{html, Markup};

use super::dashboard::value;

const W: i64 = 720;
const H: i64 = 220;
const LEFT: i64 = 8;
const BOTTOM: i64 = 36;

pub fn bars(points: &[ChartPoint], unit: Unit, title: &str, lang: Lang) -> Markup {
    let max = points
        .iter()
        .flat_map(|p| [p.actual, p.target.unwrap_or(0)])
        .max()
        .unwrap_or(0)
        .max(1);
    let n = points.len().max(1) as i64;
    let slot = (W - LEFT) / n;
    let plot = H - BOTTOM - 16;
    let y = |v: i64| H - BOTTOM - (v.max(0) as i128 * plot as i128 / max as i128) as i64;
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" {
            title #chart-title { (title) }
            line x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) class="axis" {}
            @for (i, p) in points.iter().enumerate() {
                @let x = LEFT + i as i64 * slot;
                @let top = y(p.actual);
                g {
                    title { (p.period) " : " (value(p.actual, unit, lang))
                        @if let Some(t) = p.target { " / " (value(t, unit, lang)) } }
                    rect x=(x + 6) y=(top) width=(slot - 12) height=((H - BOTTOM - top).max(0))
                        class=(if p.target.is_some_and(|t| p.actual < t) { "bar under" } else { "bar" }) {}
                    @if let Some(t) = p.target {
                        line x1=(x + 2) x2=(x + slot - 2) y1=(y(t)) y2=(y(t)) class="target" {}
                    }
                    text x=(x + slot / 2) y=(H - BOTTOM + 16) text-anchor="middle" class="label" { (p.period) }
                }
            }
        }
    }
}
