//! Server-rendered HTML: no JavaScript, every dynamic string escaped, pictures
//! and plots as same-origin images (the Content-Security-Policy forbids
//! everything else).

use std::fmt::Write;

use crate::db::{AuditRow, ProblemRow, Standing, SubmissionLine, SubmissionRow, User};

/// Where a page of a long list is.
pub struct Paging {
    /// 1-based.
    pub page: i64,
    /// How many pages there are (at least as many as known).
    pub pages: i64,
    pub limit: i64,
    /// The limit is the default (links need not name it).
    pub default_limit: bool,
}

impl Paging {
    /// Links to the previous and next pages of `path`, when there are any.
    fn nav(&self, path: &str) -> String {
        if self.pages <= 1 && self.page <= 1 {
            return String::new();
        }
        let link = |page: i64, text: &str| {
            let limit = if self.default_limit { String::new() } else { format!("&amp;limit={}", self.limit) };
            format!(r#"<a href="{path}?page={page}{limit}">{text}</a>"#)
        };
        let mut parts = Vec::new();
        if self.page > 1 {
            parts.push(link(self.page - 1, "previous"));
        }
        parts.push(format!("page {} of {}", self.page, self.pages.max(self.page)));
        if self.page < self.pages {
            parts.push(link(self.page + 1, "next"));
        }
        format!("<p class=\"sub\">{}</p>\n", parts.join(" · "))
    }
}

/// Escape text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a path segment (problem ids are plain, but a pack may name
/// them otherwise).
pub fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A UTC time, `2026-11-30 10:42:07`, from milliseconds since the epoch.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A user's name: escaped and isolated (`<bdi>`), so a name written right to
/// left cannot reorder the text around it.
pub fn name(s: &str) -> String {
    format!("<bdi>{}</bdi>", esc(s))
}

pub fn score(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v}"))
}

fn layout(title: &str, viewer: Option<&User>, body: &str) -> String {
    let who = match viewer {
        Some(u) => format!(
            r#"signed in as <a href="/users/{}">{}</a> · <form class="inline" method="post" action="/logout"><button>sign out</button></form>"#,
            u.id,
            name(&u.name)
        ),
        None => r#"<a href="/login">sign in</a>"#.to_string(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · discover board</title><link rel="stylesheet" href="/static/board.css"></head>
<body><header><a class="brand" href="/">discover board</a><span class="who">{who}</span></header>
<main>
{body}
</main></body></html>
"#,
        esc(title)
    )
}

pub fn problems(list: &[(ProblemRow, Option<Standing>, i64)], viewer: Option<&User>) -> String {
    let mut b = String::from("<h1>Problems</h1>\n<table class=\"problems\"><thead><tr><th>problem</th><th>direction</th><th>best known</th><th>leader</th><th>best here</th><th>submissions</th></tr></thead><tbody>\n");
    for (p, leader, count) in list {
        let (who, best) = match leader {
            Some(s) => (format!(r#"<a href="/users/{}">{}</a>"#, s.user_id, name(&s.user_name)), format!("{}", s.score)),
            None => ("-".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            b,
            r#"<tr><td><a href="/problems/{}">{}</a><div class="sub">{}</div></td><td>{}</td><td>{}</td><td>{who}</td><td class="num">{best}</td><td class="num">{count}</td></tr>"#,
            seg(&p.id),
            esc(&p.id),
            esc(&p.title),
            esc(&p.direction),
            score(p.best_known)
        );
    }
    b.push_str("</tbody></table>\n");
    if list.is_empty() {
        b.push_str("<p>No problem is enabled yet: <code>discover board problem enable ID</code>.</p>\n");
    }
    layout("Problems", viewer, &b)
}

pub fn problem(p: &ProblemRow, board: &[Standing], paging: &Paging, picture: bool, history: bool, viewer: Option<&User>) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{}</h1>\n<p class=\"sub\">{} · {}</p>", esc(&p.title), esc(&p.id), esc(&p.direction));
    if let Some(v) = p.best_known {
        let _ = writeln!(b, "<p>Best known: <strong>{v}</strong> {}</p>", p.best_known_source.as_deref().map(esc).unwrap_or_default());
    }
    let _ = writeln!(b, "<details><summary>Statement</summary><pre class=\"statement\">{}</pre></details>", esc(&p.statement));
    let _ = writeln!(
        b,
        "<p class=\"sub\">Submit with <code>discover submit URL {} FILE</code> or <code>POST /api/v1/problems/{}/submissions</code>.</p>",
        esc(&p.id),
        esc(&seg(&p.id))
    );
    b.push_str("<h2>Leaderboard</h2>\n");
    if board.is_empty() && paging.page == 1 {
        b.push_str("<p>No valid submission yet.</p>\n");
    } else {
        b.push_str("<table class=\"board\"><thead><tr><th>#</th><th>user</th><th>score</th><th>submission</th><th>submitted</th></tr></thead><tbody>\n");
        for s in board {
            let _ = writeln!(
                b,
                r#"<tr><td class="num">{}</td><td><a href="/users/{}">{}</a></td><td class="num">{}</td><td><a href="/submissions/{}">#{}</a></td><td>{}</td></tr>"#,
                s.rank,
                s.user_id,
                name(&s.user_name),
                s.score,
                s.submission_id,
                s.submission_id,
                time(s.created_ms)
            );
        }
        b.push_str("</tbody></table>\n");
    }
    b.push_str(&paging.nav(&format!("/problems/{}", seg(&p.id))));
    if picture {
        let _ = writeln!(
            b,
            r#"<h2>The best solution</h2><img class="picture" alt="the best solution of {}" src="/problems/{}/best.svg">"#,
            esc(&p.id),
            seg(&p.id)
        );
    }
    if history {
        let _ = writeln!(
            b,
            r#"<h2>Best score over time</h2><img class="plot" alt="best score over time" src="/problems/{}/history.svg">"#,
            seg(&p.id)
        );
    }
    layout(&p.title, viewer, &b)
}

pub fn submission(s: &SubmissionRow, audit: &[AuditRow], source: Option<&str>, picture: bool, viewer: Option<&User>) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        r#"<h1>Submission #{}</h1>
<table class="facts"><tbody>
<tr><th>problem</th><td><a href="/problems/{}">{}</a></td></tr>
<tr><th>user</th><td><a href="/users/{}">{}</a></td></tr>
<tr><th>kind</th><td>{}{}</td></tr>
<tr><th>state</th><td class="state {}">{}</td></tr>
<tr><th>score</th><td class="num">{}</td></tr>
<tr><th>submitted</th><td>{}</td></tr>"#,
        s.id,
        seg(&s.problem_id),
        esc(&s.problem_id),
        s.user_id,
        name(&s.user_name),
        esc(&s.kind),
        s.language.as_deref().map(|l| format!(" ({})", esc(l))).unwrap_or_default(),
        esc(&s.state),
        esc(&s.state),
        score(s.score),
        time(s.created_ms)
    );
    if let Some(f) = &s.failure {
        let _ = writeln!(b, "<tr><th>failure</th><td>{}</td></tr>", esc(f));
    }
    b.push_str("</tbody></table>\n");
    if let Some(r) = &s.reason {
        let _ = writeln!(b, "<h2>Reason</h2><pre class=\"reason\">{}</pre>", esc(r));
    }
    if let Some(o) = s.output.as_deref().filter(|o| !o.trim().is_empty()) {
        let _ = writeln!(b, "<h2>Output (tail)</h2><pre class=\"output\">{}</pre>", esc(o));
    }
    if picture {
        let _ = writeln!(b, r#"<h2>Picture</h2><img class="picture" alt="submission {}" src="/submissions/{}/picture.svg">"#, s.id, s.id);
    }
    match source {
        Some(src) => {
            let _ = writeln!(b, "<h2>Source</h2><pre class=\"source\">{}</pre>", esc(src));
        }
        None if s.kind == "program" => b.push_str("<p class=\"sub\">The source is shown to its author only.</p>\n"),
        None => {}
    }
    b.push_str("<h2>History</h2><table class=\"audit\"><thead><tr><th>time</th><th>by</th><th>change</th><th>detail</th></tr></thead><tbody>\n");
    for a in audit {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
            time(a.at_ms),
            esc(&a.actor),
            esc(a.from_state.as_deref().unwrap_or("")),
            esc(&a.to_state),
            esc(a.detail.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table>\n");
    layout(&format!("Submission #{}", s.id), viewer, &b)
}

pub fn user(u: &User, subs: &[SubmissionLine], paging: &Paging, viewer: Option<&User>) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{}</h1>\n<h2>Submissions</h2>", name(&u.name));
    b.push_str("<table class=\"subs\"><thead><tr><th>#</th><th>problem</th><th>state</th><th>score</th><th>submitted</th></tr></thead><tbody>\n");
    for s in subs {
        let _ = writeln!(
            b,
            r#"<tr><td><a href="/submissions/{}">#{}</a></td><td><a href="/problems/{}">{}</a></td><td class="state {}">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            s.id,
            s.id,
            seg(&s.problem_id),
            esc(&s.problem_id),
            esc(&s.state),
            esc(&s.state),
            score(s.score),
            time(s.created_ms)
        );
    }
    b.push_str("</tbody></table>\n");
    b.push_str(&paging.nav(&format!("/users/{}", u.id)));
    layout(&u.name, viewer, &b)
}

pub fn login(message: Option<&str>) -> String {
    let note = message.map(|m| format!("<p class=\"error\">{}</p>", esc(m))).unwrap_or_default();
    layout(
        "Sign in",
        None,
        &format!(
            r#"<h1>Sign in</h1>{note}
<form method="post" action="/login"><label>API token <input type="password" name="token" autocomplete="off" required></label>
<button>sign in</button></form>
<p class="sub">The token is the one <code>discover board user add</code> printed. Signed in, you see your own programs' sources.</p>"#
        ),
    )
}

pub fn not_found(what: &str, viewer: Option<&User>) -> String {
    layout("Not found", viewer, &format!("<h1>Not found</h1><p>{}</p>", esc(what)))
}

/// The one stylesheet (served from this origin; inline styles are forbidden).
pub const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\
header{display:flex;justify-content:space-between;align-items:center;padding:.6em 1.2em;background:#1f3b57;color:#fff}\
header a{color:#fff}.brand{font-weight:bold;text-decoration:none}main{max-width:60em;margin:1em auto;padding:0 1em}\
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.sub{color:#666;font-size:.9em}\
pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-word}\
.state.scored{color:#1a7f37}.state.invalid,.state.failed{color:#b42318}.state.queued,.state.running{color:#9a6700}\
img.picture,img.plot{max-width:100%;border:1px solid #ddd;background:#fff}form.inline{display:inline}\
.error{color:#b42318}\n";
