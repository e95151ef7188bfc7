"""Reports for officials: household, region and model pages (HTML and PDF) under /reports.

Same keys, roles and region scope as the API. A browser signs in once with its API key (`/reports/login`) and
gets a session cookie; an API client sends its key as usual; a signed link (`POST /reports/links`) opens one
page for a short time. Pages are Chinese by default (`?lang=en` for English) and `?format=pdf` gives the PDF.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from service.deps import DatabaseDep, HolderDep, SettingsDep, get_model
from service.errors import (
    AuthenticationError,
    InvalidFieldError,
    NotFoundError,
    OutOfScopeError,
    PermissionDeniedError,
    ServiceError,
)
from service.keys import Caller, Permission, verify_key
from service.model_holder import ModelHolder
from service.reports import auth, build
from service.reports._registry import RegistryReader
from service.reports.hidden_need import DEFAULT_SHARE, MAX_SHARE
from service.reports.i18n import Messages, UnknownLanguageError, parse_lang
from service.reports.render import html_to_pdf, render_page
from service.settings import ServiceSettings

T = TypeVar("T")

router = APIRouter(prefix="/reports", tags=["reports"])

Format = Literal["html", "pdf"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# Pages need nothing but their inline stylesheet and inline SVG: no script, no external resource, no framing.
PAGE_HEADERS = NO_STORE | {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
}
STATUS: dict[type[ServiceError], int] = {
    NotFoundError: 404,
    OutOfScopeError: 403,
    PermissionDeniedError: 403,
    InvalidFieldError: 422,
}


def _messages(lang: str | None) -> Messages:
    try:
        return Messages(parse_lang(lang))
    except UnknownLanguageError:
        raise InvalidFieldError("lang", "must be zh or en") from None


def _secret(request: Request, settings: ServiceSettings) -> bytes:
    secret: bytes | None = getattr(request.app.state, "report_secret", None)
    if secret is None:
        secret = auth.load_secret(settings.reports_secret, settings.data_dir)
        request.app.state.report_secret = secret
    return secret


def _reader(request: Request, holder: HolderDep) -> RegistryReader:
    reader: RegistryReader | None = getattr(request.app.state, "report_registry", None)
    if reader is None:
        reader = RegistryReader(holder.source.tracking_uri, holder.source.name)
        request.app.state.report_registry = reader
    return reader


def _login_url(request: Request, lang: str) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/reports/login?{urlencode({'next': target, 'lang': lang})}"


def _caller(request: Request, database: DatabaseDep, settings: ServiceSettings, lang: str) -> tuple[Caller, str]:
    """The caller and how they signed in ("key", "link" or "session"); browsers without one go to the sign-in."""
    authorization = request.headers.get("authorization")
    presented = request.headers.get("x-api-key")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError("use 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        presented = credentials.strip()
    with database.read_session() as session:
        if presented:
            return verify_key(session, presented), "key"
        link = request.query_params.get("token")
        if link:
            token = auth.verify(_secret(request, settings), link, path=request.url.path, link=True)
            return auth.caller_of(session, token.key_id), "link"
        cookie = request.cookies.get(auth.COOKIE)
        if cookie:
            try:
                token = auth.verify(_secret(request, settings), cookie, path=None)
                auth.check_not_ended(session, cookie)
                return auth.caller_of(session, token.key_id), "session"
            except AuthenticationError:
                pass  # an expired, ended or stale cookie: sign in again
    if "text/html" in request.headers.get("accept", ""):
        raise HTTPException(303, "sign in first", headers={"Location": _login_url(request, lang)})
    raise AuthenticationError("an API key, a report session or a signed link is required")


def _urls(request: Request, m: Messages, how: str) -> dict[str, str]:
    params = {k: v for k, v in request.query_params.items() if k not in ("lang", "format")}
    path = request.url.path
    urls = {
        "switch": f"{path}?{urlencode({**params, 'lang': m.other})}",
        "pdf": f"{path}?{urlencode({**params, 'lang': m.lang, 'format': 'pdf'})}",
        "model": "" if path.endswith("/model") else f"/reports/model?lang={m.lang}",
        "logout": "/reports/logout" if how == "session" else "",
    }
    if path.startswith("/reports/region/"):  # the lists' files, with the same capacity and share parameters
        params = {k: v for k, v in params.items() if k != "list"}
        urls |= {f: f"{path}?{urlencode({**params, 'lang': m.lang, 'format': f})}" for f in ("xlsx", "csv")}
        urls |= {
            f"hidden_need_{f}": f"{path}?{urlencode({**params, 'lang': m.lang, 'format': f, 'list': 'hidden_need'})}"
            for f in ("xlsx", "csv")
        }
    return urls


def _page(
    request: Request, template: str, context: dict[str, Any], m: Messages, how: str, fmt: Format, filename: str
) -> Response:
    html = render_page(template, context, _urls(request, m, how) if fmt == "html" else None)
    if fmt == "pdf":
        disposition = (
            f"attachment; filename=\"{filename}-{m.lang}.pdf\"; filename*=UTF-8''{quote(filename)}-{m.lang}.pdf"
        )
        return Response(
            html_to_pdf(html), media_type="application/pdf", headers={**NO_STORE, "Content-Disposition": disposition}
        )
    return HTMLResponse(html, headers=PAGE_HEADERS)


def _error_page(request: Request, error: ServiceError, m: Messages) -> Response | None:
    """An HTML error page for browsers; None lets the API's problem+json handler answer."""
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), None)
    if status is None or "text/html" not in request.headers.get("accept", ""):
        return None
    context = {
        "m": m,
        "title": m.t("error.title"),
        "synthetic": False,
        "generated_at": m.time(datetime.now(UTC)),
        "detail": str(error),
        "status": status,
        "login_url": f"/reports/login?lang={m.lang}",
    }
    return HTMLResponse(render_page("error", context), status_code=status, headers=PAGE_HEADERS)


def _guarded(request: Request, m: Messages, make: Callable[[], T]) -> T | Response:
    """`make()`, or for a browser the HTML error page of the service error it raised (others re-raise it)."""
    try:
        return make()
    except ServiceError as error:
        page = _error_page(request, error, m)
        if page is None:
            raise
        return page


LangQuery = Annotated[str | None, Query(description="zh (default) or en")]
FormatQuery = Annotated[Format, Query(description="html (default) or pdf")]


def _serving_label(holder: ModelHolder) -> str | None:
    """What the serving model's probabilities estimate (its label); None while no model is loaded."""
    current = holder.current
    return current.model.label if current is not None else None


@router.get("/household/{pseudonym}", response_class=HTMLResponse)
def household_page(
    pseudonym: str,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    holder: HolderDep,
    lang: LangQuery = None,
    format: FormatQuery = "html",
) -> Response:
    """One household: level, probability in words, reasons, rule flags, measures with what-if, history."""
    m = _messages(lang)
    caller, how = _caller(request, database, settings, m.lang)
    label = _serving_label(holder)
    context = _guarded(request, m, lambda: build.household_report(database, caller, pseudonym, m, label))
    if isinstance(context, Response):
        return context
    return _page(request, "household", context, m, how, format, f"household-{pseudonym}")


CapacityQuery = Annotated[int | None, Query(ge=1, description="work list: default from the service settings")]


@router.get("/region/{code}", response_class=HTMLResponse)
def region_page(
    code: str,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    holder: HolderDep,
    lang: LangQuery = None,
    format: Annotated[Literal["html", "pdf", "xlsx", "csv"], Query(description="xlsx, csv: the work list")] = "html",
    visits_per_worker: CapacityQuery = None,
    workers: CapacityQuery = None,
    visits_per_village: CapacityQuery = None,
    share: Annotated[
        float, Query(gt=0, le=MAX_SHARE, description="hidden-need list: its size as a share of each county")
    ] = DEFAULT_SHARE,
    listed: Annotated[
        Literal["work", "hidden_need"], Query(alias="list", description="xlsx, csv: which list the file holds")
    ] = "work",
) -> Response:
    """A village, township or county: levels, trend, risk types, the work list per village, the hidden-need list,
    rules versus model."""
    m = _messages(lang)
    caller, how = _caller(request, database, settings, m.lang)
    capacity = _guarded(request, m, lambda: build.capacity_of(settings, visits_per_worker, workers, visits_per_village))
    if isinstance(capacity, Response):
        return capacity
    if format in ("xlsx", "csv") and listed == "hidden_need":
        return _hidden_need_file(request, database, caller, code, share, m, format)
    if format in ("xlsx", "csv"):
        return _work_list_file(request, database, caller, code, capacity, m, format)
    label = _serving_label(holder)
    context = _guarded(
        request, m, lambda: build.region_report(database, caller, code, settings, m, capacity, share, label)
    )
    if isinstance(context, Response):
        return context
    return _page(request, "region", context, m, how, "pdf" if format == "pdf" else "html", f"region-{code}")


def _work_list_file(
    request: Request, database: DatabaseDep, caller: Caller, code: str, capacity: Any, m: Messages, fmt: str
) -> Response:
    files = _guarded(request, m, lambda: build.work_list_file(database, caller, code, capacity, m, fmt))
    if isinstance(files, Response):
        return files
    return _attachment(files, fmt, f"worklist-{code}-{m.lang}.{fmt}")


def _hidden_need_file(
    request: Request, database: DatabaseDep, caller: Caller, code: str, share: float, m: Messages, fmt: str
) -> Response:
    files = _guarded(request, m, lambda: build.hidden_need_file(database, caller, code, share, m, fmt))
    if isinstance(files, Response):
        return files
    return _attachment(files, fmt, f"hidden-need-{code}-{m.lang}.{fmt}")


def _attachment(content: bytes, fmt: str, name: str) -> Response:
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=media, headers={**NO_STORE, "Content-Disposition": disposition})


@router.get("/model", response_class=HTMLResponse)
def model_page(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    holder: HolderDep,
    lang: LangQuery = None,
    format: FormatQuery = "html",
) -> Response:
    """The serving model: card, performance, calibration, fairness, feature and score drift, promotion history."""
    m = _messages(lang)
    caller, how = _caller(request, database, settings, m.lang)
    denied = _guarded(request, m, lambda: build.require_model_report(caller))
    if isinstance(denied, Response):
        return denied
    serving = get_model(holder)
    context = build.model_report(
        serving,
        caller,
        _reader(request, holder),
        settings,
        m,
        alias=holder.source.alias,
        degraded=holder.degraded,
        database=database,
    )
    return _page(request, "model", context, m, how, format, f"model-{serving.version}")


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def reports_home(request: Request, database: DatabaseDep, settings: SettingsDep, lang: LangQuery = None) -> Response:
    """The caller's own region report (or the model report for keys without a region)."""
    m = _messages(lang)
    caller, _ = _caller(request, database, settings, m.lang)
    prefix = caller.scope.region_prefix
    target = f"/reports/region/{prefix}" if prefix and caller.can(Permission.REPORTS) else "/reports/model"
    return RedirectResponse(f"{target}?lang={m.lang}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a report page of this service: never an open redirect to another site."""
    if target and target.startswith("/reports/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/reports/"


def _login_page(m: Messages, target: str, error: str | None, settings: ServiceSettings, status: int = 200) -> Response:
    context = {
        "m": m,
        "title": m.t("login.title"),
        "synthetic": False,
        "generated_at": m.time(datetime.now(UTC)),
        "hours": f"{settings.reports_session_hours:g}",
        "error": error,
        "next": target,
        "action": "/reports/login",
    }
    return HTMLResponse(render_page("login", context), status_code=status, headers=PAGE_HEADERS)


@router.get("/login", response_class=HTMLResponse)
def login_form(settings: SettingsDep, lang: LangQuery = None, next: str | None = None) -> Response:
    """The sign-in form: an API key in, a session cookie out."""
    return _login_page(_messages(lang), _safe_next(next), None, settings)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the key; on success set the HttpOnly, SameSite=Strict session cookie and go to the page asked for."""
    m = _messages(lang)
    target = _safe_next(next)
    _require_same_origin(request)
    try:
        with database.session() as session:
            caller = verify_key(session, api_key)
    except AuthenticationError:
        return _login_page(m, target, m.t("login.failed"), settings, 401)
    if not (caller.can(Permission.REPORTS) or caller.can(Permission.MODEL)) or caller.key_id is None:
        return _login_page(m, target, m.t("login.forbidden"), settings, 403)
    expires = int(time.time() + settings.reports_session_hours * 3600)
    token = auth.sign(_secret(request, settings), auth.Token(caller.key_id, expires, None))
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.set_cookie(
        auth.COOKIE,
        token,
        max_age=int(settings.reports_session_hours * 3600),
        path="/reports",
        httponly=True,
        samesite="strict",
        secure=settings.reports_cookie_secure,
    )
    return response


@router.post("/logout")
def logout(request: Request, database: DatabaseDep, settings: SettingsDep, lang: LangQuery = None) -> Response:
    """End the browser's report session, on the server too: its cookie signs nobody in afterwards."""
    _require_same_origin(request)
    m = _messages(lang)
    cookie = request.cookies.get(auth.COOKIE)
    if cookie:
        try:
            token = auth.verify(_secret(request, settings), cookie, path=None)
        except AuthenticationError:
            token = None  # expired or forged: nothing to end
        if token is not None:
            with database.session() as session:
                auth.end_session(session, cookie, token.expires)
    response = RedirectResponse(f"/reports/login?lang={m.lang}", status_code=303, headers=NO_STORE)
    response.delete_cookie(auth.COOKIE, path="/reports")
    return response


def _require_same_origin(request: Request) -> None:
    """Sign-in and sign-out take posts from this service's own pages only (no cross-site request forgery)."""
    origin, referer = request.headers.get("origin"), request.headers.get("referer")
    if not auth.same_origin(origin, referer, request.headers.get("host")):
        raise HTTPException(403, "cross-site form posts are refused")


class LinkRequest(BaseModel):
    """A report page of this service, e.g. `/reports/household/H123?lang=en`, and how long the link lives."""

    path: str = Field(pattern=r"^/reports/(household|region)/[0-9A-Za-z_.:-]{1,64}$|^/reports/model$")
    minutes: float = Field(default=30.0, gt=0)
    lang: str | None = None


class LinkResponse(BaseModel):
    url: str
    expires_at: datetime


@router.post("/links", response_model=LinkResponse)
def create_link(
    body: LinkRequest,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
) -> LinkResponse:
    """A signed link to one report page for `minutes` (up to the configured maximum); revoking the key ends it."""
    if body.minutes > settings.reports_link_max_minutes:
        raise InvalidFieldError("minutes", f"must be at most {settings.reports_link_max_minutes:g}")
    m = _messages(body.lang)
    caller, how = _caller(request, database, settings, m.lang)
    if how == "link" or caller.key_id is None:
        raise AuthenticationError("signed links are created with an API key or a report session")
    if body.path == "/reports/model":
        build.require_model_report(caller)
    else:
        build.require_reports(caller)
    expires = int(time.time() + body.minutes * 60)
    token = auth.sign(_secret(request, settings), auth.Token(caller.key_id, expires, body.path))
    return LinkResponse(
        url=f"{body.path}?{urlencode({'lang': m.lang, 'token': token})}",
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
