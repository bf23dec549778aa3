"""Public pages of the service: the built snippet at /snippet.js and the /demo shop.

The snippet is the minified file the package ships (built from js/snippet/ by `npm run
build`), served with a short public cache and an ETag so shops revalidate cheaply. The demo
shop is a handful of small server-rendered pages (home with a hero promotion held out for some
visitors, category, product, cart, checkout, thank-you) that embed the snippet with the
two-line tag docs/snippet.md tells users to paste, so a new user can click through a shop and
watch events arrive.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from tracker.errors import NotFound
from tracker.http import runtime_of
from tracker.web import catalog

STATIC = Path(__file__).parent / "static"
SNIPPET = STATIC / "snippet.js"
SNIPPET_MAX_AGE = 300
DEMO_SITE = "demo"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@lru_cache(maxsize=1)
def _snippet() -> tuple[bytes, bytes, str]:
    """(plain, gzipped, ETag): read and compressed once per process."""
    body = SNIPPET.read_bytes()
    return body, gzip.compress(body, compresslevel=9, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, q = part.strip().partition(";")
        if coding.strip() == "gzip" and q.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


async def snippet(request: Request) -> Response:
    plain, packed, etag = _snippet()
    headers = {
        "Cache-Control": f"public, max-age={SNIPPET_MAX_AGE}",
        "ETag": etag,
        "Vary": "Accept-Encoding",
        # Shops embed it from another origin; pages with COEP need it to say so.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        return Response(packed, headers={**headers, "Content-Encoding": "gzip"}, media_type="application/javascript; charset=utf-8")
    return Response(plain, headers=headers, media_type="application/javascript; charset=utf-8")


def _page(request: Request, name: str, **context) -> Response:
    context.setdefault("categories", catalog.CATEGORIES)
    context.setdefault("catalog_json", catalog.as_json())
    return templates.TemplateResponse(request, name, {"site": DEMO_SITE, **context}, headers={"Cache-Control": "no-store"})


async def home(request: Request) -> Response:
    await run_in_threadpool(catalog.ensure_demo_promos, runtime_of(request))
    return _page(request, "home.html", featured=catalog.featured(), hero=catalog.HERO, banner=catalog.BANNER)


async def category(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in catalog.CATEGORIES:
        raise NotFound(f"no category {slug!r}")
    return _page(request, "category.html", category=catalog.CATEGORIES[slug], slug=slug, products=catalog.in_category(slug))


async def product(request: Request) -> Response:
    item = catalog.PRODUCTS.get(request.path_params["sku"])
    if item is None:
        raise NotFound("no such product")
    return _page(request, "product.html", product=item, category=catalog.CATEGORIES[item.category])


async def cart(request: Request) -> Response:
    return _page(request, "cart.html")


async def checkout(request: Request) -> Response:
    return _page(request, "checkout.html")


async def thank_you(request: Request) -> Response:
    return _page(request, "thanks.html")


# --- the start page (and the stylesheet the API docs share: tracker.openapi.routes) -------------
# No script at all on these pages, so their CSP can forbid every script and inline style.
STRICT_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
SITE_CSS = STATIC / "site.css"


def strict_page(request: Request, name: str, **context) -> Response:
    """A page of templates/site/ (the start page, the API docs) under the strict CSP."""
    return templates.TemplateResponse(request, name, context, headers={"Content-Security-Policy": STRICT_CSP,
                                                                       "Cache-Control": "no-cache"})


async def start(request: Request) -> Response:
    """The first URL a newcomer opens: where the demo, the dashboard and the API docs are."""
    return strict_page(request, "site/start.html")


async def site_css(request: Request) -> Response:
    return Response(SITE_CSS.read_bytes(), media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})


routes = [
    Route("/", start, methods=["GET", "HEAD"]),
    Route("/site.css", site_css, methods=["GET", "HEAD"]),
    Route("/snippet.js", snippet, methods=["GET", "HEAD"]),
    Route("/demo", home, methods=["GET"]),
    Route("/demo/", home, methods=["GET"]),
    Route("/demo/category/{slug}", category, methods=["GET"]),
    Route("/demo/product/{sku}", product, methods=["GET"]),
    Route("/demo/cart", cart, methods=["GET"]),
    Route("/demo/checkout", checkout, methods=["GET"]),
    Route("/demo/thank-you", thank_you, methods=["GET"]),
    Mount("/demo/assets", StaticFiles(directory=str(STATIC / "demo")), name="demo-assets"),
]
