"""Redemption on screen: the points shop's goods, stock and redemption windows (staff); merchants' offers (admins
and the merchant's own clerk); a merchant's statement with monthly totals, as CSV or .xlsx; a clerk pairing their
till; and the catalogue residents redeem from."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from openpyxl import load_workbook
from openpyxl.styles import Font

from backend.clock import local_date, zone
from backend.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from backend.redemption import rules, service
from backend.servicecards.web import qr_markup
from backend.settings import get_settings
from backend.standings import reports
from backend.stations import rules as station_rules
from backend.stations import service as stations
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import parse_form
from backend.web.i18n import gettext as _
from backend.web.messages import reason_text

SHOP = {"capability": "shop.manage"}
WINDOWS = {"capability": "shop.windows"}
OFFERS = {"capability": "offers.manage"}
STATEMENT = {"capability": "merchant.statement"}
TILLS = {"capability": "tills.pair"}


class GoodsForm(msgspec.Struct):
    community: int
    name: str = ""
    points: int | None = None
    stock: int | None = 0


class RestockForm(msgspec.Struct):
    quantity: int | None = None


class ActiveForm(msgspec.Struct):
    active: bool = False


class WindowForm(msgspec.Struct):
    community: int
    starts_on: date | None = None
    ends_on: date | None = None
    note: str = ""


class OfferForm(msgspec.Struct):
    merchant: int
    title: str = ""
    gives: str = ""
    points: int | None = None
    per_person_limit: int | None = None  # empty: no limit
    total_limit: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _flash_of(exc: DomainError) -> dict:
    """A refusal shown inside the form's screen; being in the wrong place stays an error page (403/404)."""
    if isinstance(exc, (PermissionDenied, NotFound)):
        raise exc
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


def _choice(value: str) -> int | None:
    return int(value) if value.isdigit() else None


async def _raw(request: Request) -> dict:
    """What was typed, to show the form again when it is refused."""
    return {k: v for k, v in (await request.form()).items() if k != "_csrf_token" and isinstance(v, str)}


# --- the points shop (staff) ----------------------------------------------------------------------------

async def _shop_page(request: Request, community_id: int | None, flash: dict | None = None, status: int = 200,
                     values: dict | None = None) -> Template:
    principal = await load_principal(request)
    communities = await service.communities_in(principal, "shop.manage")
    chosen = next((c for c in communities if c["id"] == community_id), None) if community_id else (
        communities[0] if communities else None)
    if community_id is not None and chosen is None:
        raise PermissionDenied("other_community")
    today = local_date(_now())
    windows = await service.windows_of(chosen["id"]) if chosen else []
    context = {
        "communities": communities, "community": chosen, "flash": flash, "values": values or {}, "today": today,
        "goods": await service.goods_of(chosen["id"]) if chosen else [], "windows": windows,
        "open_today": rules.window_open(service.as_windows(windows), today),
        "can_windows": bool(chosen) and principal.can_at("shop.windows", chosen["path"]),
    }
    template = "redemption/_shop.html" if request.htmx else "redemption/shop.html"
    return Template(template, context=context, status_code=status)


@get("/staff/shop", opt=SHOP)
async def shop_page(request: Request, community: FromQuery[str] = "") -> Template:
    return await _shop_page(request, _choice(community))


@post("/staff/shop/goods", opt=SHOP)
async def add_goods(request: Request) -> Template:
    principal = await load_principal(request)
    raw = await _raw(request)
    try:
        form = await parse_form(request, GoodsForm)
        await service.add_goods(principal, form.community, form.name, form.points, form.stock)
    except DomainError as exc:
        return await _shop_page(request, _choice(raw.get("community", "")), _flash_of(exc), status_of(exc), values=raw)
    return await _shop_page(request, form.community, {"kind": "success", "text": _(
        "%(name)s added to the points shop.", name=form.name.strip())})


@post("/staff/shop/goods/{goods_id:int}/restock", opt=SHOP)
async def restock(request: Request, goods_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    goods = await service.goods(goods_id)
    try:
        form = await parse_form(request, RestockForm)
        stock = await service.restock(principal, goods_id, form.quantity)
    except DomainError as exc:
        return await _shop_page(request, goods["community"], _flash_of(exc), status_of(exc))
    return await _shop_page(request, goods["community"], {"kind": "success", "text": _(
        "%(name)s restocked: %(stock)s in stock.", name=goods["name"], stock=stock)})


@post("/staff/shop/goods/{goods_id:int}/active", opt=SHOP)
async def goods_active(request: Request, goods_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    goods = await service.goods(goods_id)
    form = await parse_form(request, ActiveForm)
    await service.set_goods_active(principal, goods_id, form.active)
    text = _("%(name)s is redeemable again.", name=goods["name"]) if form.active else _(
        "%(name)s was withdrawn from the shop.", name=goods["name"])
    return await _shop_page(request, goods["community"], {"kind": "success", "text": text})


@post("/staff/shop/windows", opt=WINDOWS)
async def add_window(request: Request) -> Template:
    principal = await load_principal(request)
    raw = await _raw(request)
    try:
        form = await parse_form(request, WindowForm)
        await service.add_window(principal, form.community, form.starts_on, form.ends_on, form.note)
    except DomainError as exc:
        return await _shop_page(request, _choice(raw.get("community", "")), _flash_of(exc), status_of(exc), values=raw)
    return await _shop_page(request, form.community, {"kind": "success", "text": _("Redemption window added.")})


@post("/staff/shop/windows/{window_id:int}/delete", opt=WINDOWS)
async def remove_window(request: Request, window_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    community_id = await service.remove_window(principal, window_id)
    return await _shop_page(request, community_id, {"kind": "success", "text": _("Redemption window removed.")})


# --- merchant offers ------------------------------------------------------------------------------------

async def _offers_page(request: Request, merchant_id: int | None, flash: dict | None = None, status: int = 200,
                       values: dict | None = None) -> Template:
    principal = await load_principal(request)
    merchants = await service.merchants_managed(principal)
    chosen = next((m for m in merchants if m["id"] == merchant_id), None) if merchant_id else (
        merchants[0] if merchants else None)
    if merchant_id is not None and chosen is None:
        await service.merchant(principal, merchant_id)  # says why: not a merchant, or another merchant's
    today = local_date(_now())
    offers = await service.offers_of(chosen["id"]) if chosen else []
    for o in offers:
        o["valid_today"] = service.offer_valid(o, today)
    context = {"merchants": merchants, "merchant": chosen, "offers": offers, "flash": flash, "today": today,
               "values": values or {"valid_from": today.isoformat()}}
    template = "redemption/_offers.html" if request.htmx else "redemption/offers.html"
    return Template(template, context=context, status_code=status)


@get("/staff/offers", opt=OFFERS)
async def offers_page(request: Request, merchant: FromQuery[str] = "") -> Template:
    return await _offers_page(request, _choice(merchant))


@post("/staff/offers", opt=OFFERS)
async def add_offer(request: Request) -> Template:
    principal = await load_principal(request)
    raw = await _raw(request)
    try:
        form = await parse_form(request, OfferForm)
        await service.add_offer(principal, form.merchant, form.title, form.gives, form.points, form.per_person_limit,
                                form.total_limit, form.valid_from, form.valid_to)
    except DomainError as exc:
        return await _offers_page(request, _choice(raw.get("merchant", "")), _flash_of(exc), status_of(exc), values=raw)
    return await _offers_page(request, form.merchant, {"kind": "success", "text": _(
        "Offer “%(title)s” published.", title=form.title.strip())})


@post("/staff/offers/{offer_id:int}/active", opt=OFFERS)
async def offer_active(request: Request, offer_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, ActiveForm)
    found = await service.set_offer_active(principal, offer_id, form.active)
    text = _("The offer is available again.") if form.active else _("The offer was withdrawn.")
    return await _offers_page(request, found["id"], {"kind": "success", "text": text})


# --- the merchant statement -----------------------------------------------------------------------------

async def _statement(request: Request, merchant_id: int | None, month: str) -> dict:
    chosen_month = rules.parse_month(month)
    if month and chosen_month is None:  # a mistyped month is said so, not swapped for this month's
        raise InvalidInput("bad_month", field="month")
    month = chosen_month or rules.month_of(local_date(_now()))
    principal = await load_principal(request)
    merchants = await service.merchants_managed(principal)
    chosen = await service.merchant(principal, merchant_id) if merchant_id else (merchants[0] if merchants else None)
    lines = await service.statement(chosen["id"]) if chosen else []
    return {"merchants": merchants, "merchant": chosen, "month": month, "totals": service.month_totals(lines),
            "lines": service.in_month(lines, month), "zone": zone()}


@get("/merchant/statement", opt=STATEMENT)
async def statement_page(request: Request, merchant: FromQuery[str] = "", month: FromQuery[str] = "") -> Template:
    context = await _statement(request, _choice(merchant), month)
    context["month_total"] = next((t for t in context["totals"] if t.month == context["month"]), None)
    return Template("redemption/statement.html", context=context)


def _statement_headers() -> list[str]:
    return [_("Time"), _("Card holder"), _("Redeemed"), _("Kind"), _("Points")]


def _statement_rows(context: dict) -> list[list]:
    """The month's lines as on screen, oldest last: local time (a naive datetime), holder, what, kind, points."""
    kinds = {"redemption": _("Redemption"), "reversal": _("Reversal")}
    return [[line.occurred_at.astimezone(context["zone"]).replace(tzinfo=None, second=0, microsecond=0), line.holder,
             line.what, kinds.get(line.kind, line.kind), line.points] for line in context["lines"]]


@get("/merchant/statement.csv", opt=STATEMENT)
async def statement_csv(request: Request, merchant: FromQuery[str] = "", month: FromQuery[str] = "") -> Response:
    context = await _statement(request, _choice(merchant), month)
    if context["merchant"] is None:
        raise NotFound("not_a_merchant")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_statement_headers())
    for row in _statement_rows(context):
        writer.writerow([row[0].strftime("%Y-%m-%d %H:%M"), *row[1:]])
    # the byte-order mark makes Excel read the file as UTF-8 (Chinese names stay readable)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="statement-{context["merchant"]["id"]}-{context["month"]}.csv"'})


@get("/merchant/statement.xlsx", opt=STATEMENT)
async def statement_xlsx(request: Request, merchant: FromQuery[str] = "", month: FromQuery[str] = "") -> Response:
    """The same rows and columns as the screen and the CSV (times as dates, points as numbers, in the standings
    exports' style), and a second sheet with the totals per month."""
    context = await _statement(request, _choice(merchant), month)
    if context["merchant"] is None:
        raise NotFound("not_a_merchant")
    found = context["merchant"]
    heading = _("Merchant statement %(month)s: %(merchant)s", month=context["month"], merchant=found["name"])
    book = load_workbook(io.BytesIO(reports.to_xlsx(context["month"], _statement_headers(), _statement_rows(context),
                                                    heading)))
    lines = book.active
    for (cell,) in lines.iter_rows(min_row=3, min_col=1, max_col=1):
        cell.number_format = "yyyy-mm-dd hh:mm"
    lines.column_dimensions["A"].width = 18
    totals = book.create_sheet(_("Totals per month")[:31])
    totals.append([_("Month"), _("Redemptions"), _("Points")])
    for cell in totals[1]:
        cell.font = Font(bold=True)
    for t in context["totals"]:
        totals.append([t.month, t.count, t.points])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=reports.XLSX, headers={
        "Content-Disposition": f'attachment; filename="statement-{found["id"]}-{context["month"]}.xlsx"',
        "Cache-Control": "no-store"})


# --- a merchant clerk pairs their till ------------------------------------------------------------------

async def _tills_page(request: Request, pairing: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    merchants = await service.merchants_managed(principal)
    tills = await service.tills_of([m["id"] for m in merchants])
    return Template("redemption/tills.html", context={"merchants": merchants, "tills": tills, "pairing": pairing},
                    status_code=status, headers={"Cache-Control": "no-store"})


@get("/merchant/tills", opt=TILLS)
async def tills_page(request: Request) -> Template:
    return await _tills_page(request)


@post("/merchant/tills/{station_id:int}/pairing", opt=TILLS)
async def till_pairing(request: Request, station_id: FromPath[int]) -> Template:
    """A one-time pairing code for a new till device of the clerk's own merchant."""
    principal = await load_principal(request)
    name = ((await request.form()).get("device_name") or "").strip()
    now = _now()
    try:
        code = await stations.new_pairing_code(principal, station_id, name, now)
    except DomainError as exc:
        return await _tills_page(request, {"station": station_id, "name": name, "error": _flash_of(exc)["text"]},
                                 status_of(exc))
    url = station_rules.pairing_url(get_settings().base_url, code)
    return await _tills_page(request, {
        "station": station_id, "name": name, "url": url, "qr": qr_markup(url, _("Pairing code for %(name)s", name=name)),
        "until": (now + station_rules.PAIRING_LIFETIME).astimezone(zone()).strftime("%H:%M")})


# --- what residents can redeem --------------------------------------------------------------------------

@get("/shop", opt={"capability": "me.view"})
async def catalogue(request: Request) -> Template:
    principal = await load_principal(request)
    today = local_date(_now())
    return Template("redemption/catalogue.html", context={
        "views": await service.catalogue(principal.person_id, today) if principal.person_id else [], "today": today})


ROUTES = [shop_page, add_goods, restock, goods_active, add_window, remove_window, offers_page, add_offer, offer_active,
          statement_page, statement_csv, statement_xlsx, tills_page, till_pairing, catalogue]
