"""Dashboard HTTP handlers: login/logout, the server-rendered pages, and their static assets.

Pages are Jinja2 templates holding the layout, navigation, filters and empty panels; a small
script then fills the panels from the JSON API with the session cookie (tracker/auth/sessions.py), so
every figure shown is the API's. Handlers here never compute a report: the only query they
make is whether the chosen site has any event at all (to show the snippet instead of empty
charts).
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tracker.auth import sessions as sess
from tracker.auth.tokens import Principal
from tracker.dashboard.pages import BY_NAME, FILTER_DIMS, MODELS, PAGES, PRESETS, VISITOR, Page, nav_for, parse_filters_leniently, snippet_tag
from tracker.errors import TrackerError
from tracker.http import cookie_header, is_secure, network_prefix, runtime_of
from tracker.reports.trust.score import CODES
from tracker.security import from_elsewhere

HERE = Path(__file__).parent
STATIC = HERE / "static"
MAX_FORM_BYTES = 8 * 1024
LOGIN_CSRF_MAX_AGE = 3600
# Stricter than the default page policy: no inline script at all (the page config is a JSON
# data block), and the API is the only thing scripts may connect to.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {"content-security-policy": CSP, "cache-control": "no-store", "x-frame-options": "DENY"}

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)


def _asset_version() -> str:
    try:
        built = json.loads((STATIC / "versions.json").read_text()).get("build", "")
        return built or str(int((STATIC / "dashboard.min.js").stat().st_mtime))
    except (OSError, ValueError):
        return "0"


ASSET_VERSION = _asset_version()


def render(name: str, code: int = 200, cookies: list[str] | None = None, **context) -> HTMLResponse:
    html = templates.get_template(name).render(asset_version=ASSET_VERSION, **context)
    response = HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)
    for cookie in cookies or []:
        response.headers.append("set-cookie", cookie)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    found = sess.current(request)
    context = {"status": status, "title": title, "message": message, "principal": None, "page": None}
    if found:
        session, principal = found
        context.update(principal=principal, csrf=session.csrf, nav=nav_for(principal), nav_query="")
    return render("error.html", status, **context)


def _same_origin(request: Request) -> bool:
    """A browser's form post must come from this server's own pages (defence in depth beside
    the CSRF token and `tracker.security.CrossSiteGuard`); requests that name no origin (no
    `Sec-Fetch-Site`, no `Origin`) are judged by the token alone."""
    return not from_elsewhere(request.scope)


async def _form(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise _Reject(413, "Too large", "That form was larger than a sign-in form can be.")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise _Reject(415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.")
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


class _Reject(Exception):
    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _safe_next(raw: str | None) -> str:
    """Only paths inside the dashboard: never an open redirect."""
    if raw and raw.startswith("/dashboard") and not raw.startswith("//") and "\\" not in raw and "\n" not in raw and "\r" not in raw:
        return raw
    return "/dashboard"


# --- login / logout ------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    if await run_in_threadpool(sess.current, request):
        return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
    return _login_form(request, status=200, notice="You are signed out." if request.query_params.get("bye") else None)


def _login_form(request: Request, *, status: int, error: str | None = None, notice: str | None = None,
                next_url: str | None = None) -> Response:
    token = request.cookies.get(sess.LOGIN_CSRF_COOKIE) or ""
    cookies = []
    if len(token) < 20:
        token = secrets.token_urlsafe(24)
    cookies.append(cookie_header(sess.LOGIN_CSRF_COOKIE, token, secure=is_secure(request), max_age=LOGIN_CSRF_MAX_AGE, path="/dashboard",
                                 same_site="Strict"))
    next_url = _safe_next(next_url or request.query_params.get("next"))
    return render("login.html", status, cookies=cookies, csrf=token, next=next_url, error=error, notice=notice)


def _login_allowed(request: Request) -> float:
    """Seconds to wait before another sign-in attempt from this network (0: go ahead); the
    bucket is `runtime.rate_limiter.login`."""
    return runtime_of(request).rate_limiter.login.take(network_prefix(request))


async def login(request: Request) -> Response:
    try:
        form = await _form(request)
    except _Reject as r:
        return render("error.html", r.status, status=r.status, title=r.title, message=r.message, principal=None, page=None)
    wait = _login_allowed(request)
    if wait:
        response = _login_form(request, status=429, error=f"Too many sign-in attempts from your network. Try again in {math.ceil(wait)} s.",
                               next_url=form.get("next"))
        response.headers["retry-after"] = str(math.ceil(wait))
        return response
    expected = request.cookies.get(sess.LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(form.get("csrf", ""), expected) or not _same_origin(request):
        return _login_form(request, status=403, error="This sign-in form has expired. Please try again.", next_url=form.get("next"))
    try:
        principal: Principal | None = await run_in_threadpool(runtime_of(request).tokens.verify, (form.get("token") or "").strip())
    except TrackerError as exc:
        return _login_form(request, status=503, error=f"Tracker cannot check tokens right now ({exc.message}). Try again in a moment.",
                           next_url=form.get("next"))
    if principal is None:
        return _login_form(request, status=401, error="That token is not valid (or it was revoked).", next_url=form.get("next"))
    if principal.role == "ingest":  # a backend's order token opens no dashboard
        return _login_form(request, status=403, error="An ingest token only sends orders; sign in with a marketer, fraud or admin token.",
                           next_url=form.get("next"))
    sessions = runtime_of(request).sessions
    session = sessions.new(principal.token_id)
    secure = is_secure(request)
    response = RedirectResponse(_safe_next(form.get("next")), 303)
    response.headers.append("set-cookie", cookie_header(sess.COOKIE, sessions.sign(session), secure=secure, max_age=sess.IDLE_SECONDS))
    response.headers.append("set-cookie",
                            cookie_header(sess.LOGIN_CSRF_COOKIE, "", secure=secure, max_age=0, path="/dashboard", same_site="Strict"))
    response.headers["cache-control"] = "no-store"
    return response


async def logout(request: Request) -> Response:
    try:
        found = await run_in_threadpool(sess.current, request)
    except TrackerError:  # storage down: the cookie is cleared all the same
        found = None
    if found is None:
        response = RedirectResponse("/dashboard/login", 303)
        if _same_origin(request):  # a page elsewhere must not sign anyone out (its post carries no Lax cookie)
            response.headers.append("set-cookie", cookie_header(sess.COOKIE, "", secure=is_secure(request), max_age=0))
        return response
    session, _ = found
    try:
        form = await _form(request)
    except _Reject as r:
        return error_page(request, r.status, r.title, r.message)
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf) or not _same_origin(request):
        return error_page(request, 403, "Sign-out refused",
                          "The form did not carry this session's security token. Use the Sign out button of the dashboard.")
    runtime_of(request).sessions.end(session)
    response = RedirectResponse("/dashboard/login?bye=1", 303)
    response.headers.append("set-cookie", cookie_header(sess.COOKIE, "", secure=is_secure(request), max_age=0))
    return response


# --- pages -----------------------------------------------------------------------------------------
def _has_events(storage, site: str) -> bool:
    return bool(storage.query("SELECT 1 FROM events WHERE site = {site:String} LIMIT 1", {"site": site}, what="checking for events").rows)


async def _page(request: Request, page: Page, **extra) -> Response:
    try:
        found = await run_in_threadpool(sess.current, request)
    except TrackerError as exc:  # storage down: say so on a page, not in JSON
        request.state.dashboard_session = None
        return error_page(request, 503, "Tracker is not ready",
                          f"The dashboard cannot reach its storage right now ({exc.message}). Try again in a moment.")
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/dashboard/login?" + urlencode({"next": target}), 303)
    session, principal = found
    if principal.role not in page.roles:
        return error_page(request, 403, "Not for your role",
                          f"The {page.title.lower()} page is for the fraud team and admins; your token's role is {principal.role}.")
    runtime = runtime_of(request)
    try:
        records = {s.site: s for s in await run_in_threadpool(runtime.sites.all)}
        registered = list(records)
        visible = [s for s in registered if principal.may_see_site(s)]
        query = {k: v for k, v in request.query_params.items() if len(v) <= 2000}
        filters, field_errors = parse_filters_leniently(query, visible, request.query_params.getlist("filter"))
        if filters.site and (not principal.may_see_site(filters.site) or filters.site not in registered):
            return error_page(request, 404, "No such site", f"There is no site {filters.site!r} you may see.")
        no_events = bool(filters.site) and not await run_in_threadpool(_has_events, runtime.storage, filters.site)
    except TrackerError as exc:
        return error_page(request, exc.status if exc.status < 500 else 503, "Cannot show this page", exc.message)
    if not filters.site:
        return error_page(request, 404, "No site yet", "Register a site first: tracker site add SITE --origin https://your-shop.example")
    prev_start, prev_end = filters.previous
    keep = filters.page_query()
    base_url = runtime.settings.public_url or str(request.base_url)
    config = {
        "page": page.name,
        "params": filters.api_params(),
        "previous": {"from": prev_start.isoformat(), "to": prev_end.isoformat()},
        "page_query": keep,
        "no_events": no_events,
        "invalid": bool(field_errors),  # the figures wait until the filters are fixed
        "filter_dims": list(FILTER_DIMS),
        "empty_hint": "No data in this range. Try a longer date range, or All traffic.",
        "trust_link": ("/dashboard/trust?" + urlencode({k: v for k, v in keep.items() if k != "filter"}, doseq=True)) if principal.role in ("fraud", "admin") else None,
        **extra,
    }
    context = {
        "page": page,
        "principal": principal,
        "csrf": session.csrf,
        "nav": nav_for(principal),
        "nav_query": "?" + urlencode(keep, doseq=True),
        "field_errors": field_errors,
        "chips": [(c, c.partition(":")[0], c.partition(":")[2], "?" + urlencode({**keep, "filter": [x for x in filters.chips if x != c]}, doseq=True))
                  for c in filters.chips],
        "clear_query": "?" + urlencode({k: v for k, v in keep.items() if k != "filter"}),
        "sites": visible,
        "filters": filters,
        "presets": PRESETS,
        "models": MODELS,
        "query": query,
        "config": config,
        "no_events": no_events,
        "snippet": snippet_tag(base_url, filters.site),
        "origins": list(records[filters.site].origins),
        "form_action": request.url.path,
        "heading": extra.get("heading"),
    }
    cookies = []
    refreshed = runtime.sessions.touch(session)
    if refreshed:
        cookies.append(cookie_header(sess.COOKIE, runtime.sessions.sign(refreshed), secure=is_secure(request), max_age=sess.IDLE_SECONDS))
    return render("page.html", 400 if field_errors else 200, cookies=cookies, **context)


def _page_handler(page: Page):
    extra = {"reasons": list(CODES)} if page.name == "trust" else {}  # the reason filter's choices

    async def handler(request: Request) -> Response:
        return await _page(request, page, **extra)

    handler.__name__ = f"dashboard_{page.name}"
    return handler


async def visitor_page(request: Request) -> Response:
    vid = request.path_params["vid"]
    if len(vid) > 128 or not vid.isprintable():
        return error_page(request, 400, "Bad visitor id", "A visitor id is at most 128 printable characters.")
    return await _page(request, VISITOR, vid=vid, heading=f"Visitor {vid}")


async def not_found(request: Request) -> Response:
    return error_page(request, 404, "Page not found", "There is no dashboard page here.")


routes = [
    Route("/dashboard/login", login_page, methods=["GET"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logout, methods=["POST"]),
    *[Route(p.path, _page_handler(p), methods=["GET"]) for p in PAGES],
    Route("/dashboard/", _page_handler(BY_NAME["overview"]), methods=["GET"]),
    Route("/dashboard/trust/visitors/{vid:path}", visitor_page, methods=["GET"]),
    Mount("/dashboard/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
    Route("/dashboard/{rest:path}", not_found, methods=["GET"]),
]
