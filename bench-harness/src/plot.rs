//! SVG plots of a run: throughput against p99 latency for every load case, and each
//! process's RSS over time.

use std::path::Path;

use plotters::prelude::*;

use crate::process::Sample;
use crate::results::RunSummary;

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// `throughput-latency.svg`: achieved records/s (x) against p99 ack latency (y), a labelled
/// point per case.
pub fn throughput_latency(summary: &RunSummary, path: &Path) -> PlotResult {
    let points: Vec<(f64, f64, &str)> = summary
        .cases
        .iter()
        .filter(|c| c.p99_ms > 0.0)
        .map(|c| {
            (
                c.achieved_records_per_sec / 1000.0,
                c.p99_ms,
                c.case.as_str(),
            )
        })
        .collect();
    if points.is_empty() {
        return Ok(());
    }
    let max_x = points.iter().map(|p| p.0).fold(1.0, f64::max) * 1.2;
    let max_y = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.3;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "IceGate: throughput vs p99 ack latency ({})",
                summary.machine.commit
            ),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("acknowledged records/s (thousands)")
        .y_desc("p99 latency (ms)")
        .draw()?;
    chart.draw_series(points.iter().map(|&(x, y, name)| {
        EmptyElement::at((x, y))
            + Circle::new((0, 0), 5, BLUE.filled())
            + Text::new(name.to_string(), (8, -12), ("sans-serif", 13))
    }))?;
    root.present()?;
    Ok(())
}

/// `rss-<case>.svg`: RSS (MB) over seconds for each process of a case.
pub fn rss_over_time(case: &str, series: &[(&str, &[Sample])], path: &Path) -> PlotResult {
    if series.iter().all(|(_, s)| s.is_empty()) {
        return Ok(());
    }
    let max_x = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.secs))
        .fold(1.0, f64::max);
    let max_y = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.rss_kb as f64 / 1024.0))
        .fold(1.0, f64::max)
        * 1.2;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{case}: RSS over time"), ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("RSS (MB)")
        .draw()?;
    for (index, (name, samples)) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                samples.iter().map(|s| (s.secs, s.rss_kb as f64 / 1024.0)),
                color.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
