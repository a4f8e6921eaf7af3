//! `report.html` in a real headless browser (Debian's Chromium, which `.ci/run` installs): the
//! CI sweep's page, with its gate verdict, tables and embedded charts, is rendered and its DOM
//! read back after the page's script ran; a sorted view given in the address is applied; a
//! screenshot is taken and is not blank.
//!
//! Without a browser the test says it is skipped; with `SEGSWEEP_REQUIRE_BROWSER=1` (set by
//! `.ci/run` once Chromium is installed) a missing browser fails it instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{TestDir, available_or_skip, repo_root, segsweep};

/// The browser: `$SEGSWEEP_CHROMIUM`, else `chromium` or `chromium-browser` on PATH (else the
/// test is skipped, or fails in CI).
fn browser() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("SEGSWEEP_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser"].map(PathBuf::from))
        .collect();
    let found =
        candidates.into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    let missing = "no chromium on PATH (`apt-get install chromium`, or set SEGSWEEP_CHROMIUM)";
    available_or_skip("report_html", found.is_some(), "SEGSWEEP_REQUIRE_BROWSER", missing).then_some(found?)
}

/// Headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=PATH`): its stdout.
fn chromium(browser: &Path, profile: &Path, mode: &str, url: &str) -> String {
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The rows of the table `id` in the DOM, each as its cells' texts and `data-value`s.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<(String, Option<String>)>> {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let value = cell.split("data-value=\"").nth(1).map(|v| v.split('"').next().unwrap().to_string());
                    let inner = cell.split_once('>').unwrap().1.split("</td>").next().unwrap();
                    let text: String =
                        inner.split('<').map(|part| part.split_once('>').map_or(part, |(_, t)| t)).collect();
                    (text, value)
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_sweep_page_renders_in_a_browser_with_its_verdict_tables_and_charts() {
    let Some(browser) = browser() else { return };
    let dir = TestDir::new();
    let manifest = dir.write("exp/ci.yaml", &std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap());
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    std::fs::copy(repo_root().join("snapshots/ci.summary.yaml"), dir.join("snapshots/ci.summary.yaml")).unwrap();
    let sweep = segsweep(&["sweep", manifest.to_str().unwrap()]);
    assert_eq!(sweep.code, 0, "{}\n{}", sweep.stdout, sweep.stderr);
    let page = dir.join("results/ci/sweep/report.html");
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(!text.contains("http://") && !text.contains("https://"), "self-contained: no network");
    let profile = dir.join("chromium-profile");
    let url = format!("file://{}#runs=3d", page.display());

    let dom = chromium(&browser, &profile, "--dump-dom", &url);
    assert!(dom.contains("<h1>Sweep `ci`</h1>"), "{dom}");
    assert!(dom.contains("PASS: 0 of 2 gated means moved beyond their tolerance"), "the gate's verdict");
    assert_eq!(dom.matches("<img ").count(), 3, "three embedded charts");
    assert_eq!(dom.matches("src=\"data:image/png;base64,").count(), 3);
    let summary = table_rows(&dom, "summary");
    assert!(summary.len() >= 8, "cells × metrics: {}", summary.len());
    assert!(summary.iter().all(|r| r.len() == 9));
    assert_eq!(table_rows(&dom, "compare").len(), summary.len() / 2, "one comparison per metric of the second cell");
    // The address asked for the runs sorted by their IoU, descending: the script did it.
    let runs = table_rows(&dom, "runs");
    assert_eq!(runs.len(), 4);
    let ious: Vec<f64> = runs.iter().map(|r| r[3].1.as_deref().unwrap().parse().unwrap()).collect();
    assert!(ious.windows(2).all(|w| w[0] >= w[1]), "sorted descending: {ious:?}");
    assert!(dom.contains("<th class=\"desc\">iou.written_masks</th>"), "the sorted column is marked");
    let links: Vec<&str> = dom.split("href=\"").skip(1).map(|l| l.split('"').next().unwrap()).collect();
    for link in links.iter().filter(|l| l.starts_with("../")) {
        assert!(page.parent().unwrap().join(link).exists(), "a link to a missing path: {link}");
    }
    assert_eq!(links.iter().filter(|l| l.ends_with("/overlays/")).count(), 4);

    let shot = dir.join("report.png");
    chromium(&browser, &profile, &format!("--screenshot={}", shot.display()), &url);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (1200, 1600));
    let channels = info.buffer_size() / (1200 * 1600);
    let inked = pixels[..info.buffer_size()].chunks(channels).filter(|p| p[..3].iter().any(|&c| c < 200)).count();
    assert!(inked > 1200 * 1600 / 50, "the screenshot shows the page, not a blank: {inked} dark pixels");
}
