//! Server-rendered HTML through maud templates: every `(expression)` in a
//! template is escaped unless it is wrapped in `PreEscaped`, which nothing
//! here does with data; no JavaScript; pictures and plots as same-origin
//! images (the Content-Security-Policy forbids everything else).

use maud::{html, Markup, DOCTYPE};

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
    fn nav(&self, path: &str) -> Markup {
        let href = |page: i64| {
            if self.default_limit { format!("{path}?page={page}") } else { format!("{path}?page={page}&limit={}", self.limit) }
        };
        html! {
            @if self.pages > 1 || self.page > 1 {
                p.sub {
                    @if self.page > 1 { a href=(href(self.page - 1)) { "previous" } " · " }
                    "page " (self.page) " of " (self.pages.max(self.page))
                    @if self.page < self.pages { " · " a href=(href(self.page + 1)) { "next" } }
                }
            }
        }
    }
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
pub fn name(s: &str) -> Markup {
    html! { bdi { (s) } }
}

pub fn score(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v}"))
}

fn layout(title: &str, viewer: Option<&User>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · discover board" }
                link rel="stylesheet" href="/static/board.css";
            }
            body {
                header {
                    a.brand href="/" { "discover board" }
                    span.who {
                        @if let Some(u) = viewer {
                            "signed in as " a href={ "/users/" (u.id) } { (name(&u.name)) } " · "
                            form.inline method="post" action="/logout" { button { "sign out" } }
                        } @else {
                            a href="/login" { "sign in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
    .into_string()
}

pub fn problems(list: &[(ProblemRow, Option<Standing>, i64)], viewer: Option<&User>) -> String {
    let body = html! {
        h1 { "Problems" }
        table.problems {
            thead { tr { th { "problem" } th { "direction" } th { "best known" } th { "leader" } th { "best here" } th { "submissions" } } }
            tbody {
                @for (p, leader, count) in list {
                    tr {
                        td { a href={ "/problems/" (seg(&p.id)) } { (p.id) } div.sub { (p.title) } }
                        td { (p.direction) }
                        td { (score(p.best_known)) }
                        @match leader {
                            Some(s) => {
                                td { a href={ "/users/" (s.user_id) } { (name(&s.user_name)) } }
                                td.num { (s.score) }
                            }
                            None => { td { "-" } td.num { "-" } }
                        }
                        td.num { (count) }
                    }
                }
            }
        }
        @if list.is_empty() {
            p { "No problem is enabled yet: " code { "discover board problem enable ID" } "." }
        }
    };
    layout("Problems", viewer, body)
}

pub fn problem(p: &ProblemRow, board: &[Standing], paging: &Paging, picture: bool, history: bool, viewer: Option<&User>) -> String {
    let body = html! {
        h1 { (p.title) }
        p.sub { (p.id) " · " (p.direction) }
        @if let Some(v) = p.best_known {
            p { "Best known: " strong { (v) } " " (p.best_known_source.as_deref().unwrap_or_default()) }
        }
        details { summary { "Statement" } pre.statement { (p.statement) } }
        p.sub {
            "Submit with " code { "discover submit URL " (p.id) " FILE" } " or "
            code { "POST /api/v1/problems/" (seg(&p.id)) "/submissions" } "."
        }
        h2 { "Leaderboard" }
        @if board.is_empty() && paging.page == 1 {
            p { "No valid submission yet." }
        } @else {
            table.board {
                thead { tr { th { "#" } th { "user" } th { "score" } th { "submission" } th { "submitted" } } }
                tbody {
                    @for s in board {
                        tr {
                            td.num { (s.rank) }
                            td { a href={ "/users/" (s.user_id) } { (name(&s.user_name)) } }
                            td.num { (s.score) }
                            td { a href={ "/submissions/" (s.submission_id) } { "#" (s.submission_id) } }
                            td { (time(s.created_ms)) }
                        }
                    }
                }
            }
        }
        (paging.nav(&format!("/problems/{}", seg(&p.id))))
        @if picture {
            h2 { "The best solution" }
            img.picture alt={ "the best solution of " (p.id) } src={ "/problems/" (seg(&p.id)) "/best.svg" };
        }
        @if history {
            h2 { "Best score over time" }
            img.plot alt="best score over time" src={ "/problems/" (seg(&p.id)) "/history.svg" };
        }
    };
    layout(&p.title, viewer, body)
}

pub fn submission(s: &SubmissionRow, audit: &[AuditRow], source: Option<&str>, picture: bool, viewer: Option<&User>) -> String {
    let body = html! {
        h1 { "Submission #" (s.id) }
        table.facts {
            tbody {
                tr { th { "problem" } td { a href={ "/problems/" (seg(&s.problem_id)) } { (s.problem_id) } } }
                tr { th { "user" } td { a href={ "/users/" (s.user_id) } { (name(&s.user_name)) } } }
                tr { th { "kind" } td { (s.kind) @if let Some(l) = &s.language { " (" (l) ")" } } }
                tr { th { "state" } td class={ "state " (s.state) } { (s.state) } }
                tr { th { "score" } td.num { (score(s.score)) } }
                tr { th { "submitted" } td { (time(s.created_ms)) } }
                @if let Some(f) = &s.failure {
                    tr { th { "failure" } td { (f) } }
                }
            }
        }
        @if let Some(r) = &s.reason {
            h2 { "Reason" } pre.reason { (r) }
        }
        @if let Some(o) = s.output.as_deref().filter(|o| !o.trim().is_empty()) {
            h2 { "Output (tail)" } pre.output { (o) }
        }
        @if picture {
            h2 { "Picture" }
            img.picture alt={ "submission " (s.id) } src={ "/submissions/" (s.id) "/picture.svg" };
        }
        @match source {
            Some(src) => { h2 { "Source" } pre.source { (src) } }
            None if s.kind == "program" => { p.sub { "The source is shown to its author only." } }
            None => {}
        }
        h2 { "History" }
        table.audit {
            thead { tr { th { "time" } th { "by" } th { "change" } th { "detail" } } }
            tbody {
                @for a in audit {
                    tr {
                        td { (time(a.at_ms)) }
                        td { (a.actor) }
                        td { (a.from_state.as_deref().unwrap_or("")) " → " (a.to_state) }
                        td { (a.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    layout(&format!("Submission #{}", s.id), viewer, body)
}

pub fn user(u: &User, subs: &[SubmissionLine], paging: &Paging, viewer: Option<&User>) -> String {
    let body = html! {
        h1 { (name(&u.name)) }
        h2 { "Submissions" }
        table.subs {
            thead { tr { th { "#" } th { "problem" } th { "state" } th { "score" } th { "submitted" } } }
            tbody {
                @for s in subs {
                    tr {
                        td { a href={ "/submissions/" (s.id) } { "#" (s.id) } }
                        td { a href={ "/problems/" (seg(&s.problem_id)) } { (s.problem_id) } }
                        td class={ "state " (s.state) } { (s.state) }
                        td.num { (score(s.score)) }
                        td { (time(s.created_ms)) }
                    }
                }
            }
        }
        (paging.nav(&format!("/users/{}", u.id)))
    };
    layout(&u.name, viewer, body)
}

pub fn login(message: Option<&str>) -> String {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(m) = message { p.error { (m) } }
        form method="post" action="/login" {
            label { "API token " input type="password" name="token" autocomplete="off" required; }
            button { "sign in" }
        }
        p.sub {
            "The token is the one " code { "discover board user add" } " printed. Signed in, you see your own programs' sources."
        }
    };
    layout("Sign in", None, body)
}

pub fn not_found(what: &str, viewer: Option<&User>) -> String {
    layout("Not found", viewer, html! { h1 { "Not found" } p { (what) } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_from_data_is_escaped_and_names_are_isolated() {
        let u = User { id: 3, name: "<script>alert(1)</script>\u{202e}".into() };
        let html = not_found("</p><img src=x onerror=alert(1)>", Some(&u));
        assert!(html.contains("&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"), "{html}");
        assert!(html.contains("<bdi>&lt;script&gt;alert(1)&lt;/script&gt;\u{202e}</bdi>"), "{html}");
        let paging = Paging { page: 2, pages: 3, limit: 50, default_limit: false };
        let nav = paging.nav("/users/3").into_string();
        assert!(nav.contains(r#"href="/users/3?page=1&amp;limit=50""#) && nav.contains("page 2 of 3"), "{nav}");
        assert!(Paging { page: 1, pages: 1, limit: 100, default_limit: true }.nav("/x").into_string().is_empty());
    }
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
