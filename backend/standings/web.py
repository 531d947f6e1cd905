"""Standings on screen: residents' boards and own rank; the staff desk (boards with filters and exports, grid
rankings and the quarter's red-flag grids, party members' stars, yearly awards with certificates, charts, settings);
and the public screen for the community centre's TV (晾晒积分).

The public screen needs no sign-in (a TV has no keyboard) but lives at an unguessable address per community that
staff set and can change at any time: a board of names and points should not be found by crawling ids, and a
leaked address is revoked by making a new one. It shows masked names only."""
from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.clock import local_date, zone
from backend.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from backend.settings import get_settings
from backend.standings import charts, reports, rules, service
from backend.standings.rules import Period
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.i18n import N_, gettext as _
from backend.web.messages import reason_text

VIEW = {"capability": "standings.view"}
MANAGE = {"capability": "standings.manage"}
PUBLIC = {"public": True}
SCREEN_SECONDS = 60  # the screen fetches fresh boards this often; each of its three boards shows for a third of it

COLOUR_NAMES = {"red": N_("Red (party members)"), "blue": N_("Blue (residents)"), "green": N_("Green (unit leads)")}
KIND_NAMES = {"person": N_("People"), "organisation": N_("Organisations")}
PERIOD_NAMES = {"month": N_("This month"), "quarter": N_("This quarter"), "year": N_("This year")}
AWARD_NAMES = {"points_star": N_("Points Star"), "watch_star": N_("Good Neighbour Star")}
ITEM_KINDS = {"award": N_("Award"), "hours": N_("Volunteer hours"), "reversal": N_("Reversal")}
AWARD_STATES = {"shortlisted": N_("Shortlisted"), "nominated": N_("Nominated"), "awarded": N_("Awarded"),
                "not_awarded": N_("Not awarded")}
DONE = {"settings": N_("The settings were saved."), "token": N_("The public screen has a new address; the old one no longer works."),
        "token_off": N_("The public screen is switched off."), "selection": N_("The quarter's red-flag grids were recorded."),
        "shortlist": N_("The shortlist was drawn up from the ledger."), "nominate": N_("The candidate was nominated."),
        "award": N_("The award was decided."), "not_award": N_("The decision was recorded."),
        "withdraw": N_("The nomination was withdrawn.")}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _today():
    return local_date(_now())


def _flash(done: str | None) -> dict | None:
    return {"kind": "success", "text": _(DONE[done])} if done in DONE else None


def period_label(period: Period) -> str:
    if period.kind == "month":
        return _("%(year)s-%(month)02d", year=period.year, month=period.number)
    if period.kind == "quarter":
        return _("Q%(quarter)s %(year)s", quarter=period.number, year=period.year)
    return str(period.year)


def _period(text: str, default_kind: str = "month") -> Period:
    """A period from the query (2026-10, 2026-Q4, 2026) or a kind (month/quarter/year: the current one)."""
    if text in rules.PERIOD_KINDS:
        return rules.period_of(text, _today())
    if not text:
        return rules.period_of(default_kind, _today())
    return rules.parse_period(text)


def _int(value: str) -> int | None:
    return int(value) if value and value.isdigit() else None


HELPERS = {"COLOUR_NAMES": COLOUR_NAMES, "KIND_NAMES": KIND_NAMES, "PERIOD_NAMES": PERIOD_NAMES,
           "AWARD_NAMES": AWARD_NAMES, "AWARD_STATES": AWARD_STATES, "ITEM_KINDS": ITEM_KINDS, "period_label": period_label}


def _download(content: bytes, filename: str, fmt: str) -> Response:
    media = reports.XLSX if fmt == "xlsx" else "text/csv; charset=utf-8"
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"', "Cache-Control": "no-store"})


def _export(fmt: str, title: str, heading: str, headers: list[str], rows: list[list], filename: str) -> Response:
    if fmt == "xlsx":
        return _download(reports.to_xlsx(title, headers, rows, heading), filename, "xlsx")
    if fmt == "csv":
        return _download(reports.to_csv(headers, rows), filename, "csv")
    raise NotFound("not_found")


# --- residents ----------------------------------------------------------------------------------------------

async def _resident_account(request: Request) -> dict | None:
    principal = await load_principal(request)
    accounts = await service.accounts_of(principal.person_id)
    return accounts[0] if accounts else None


@get("/standings", opt=VIEW)
async def resident_board(request: Request, period: FromQuery[str] = "month", board: FromQuery[str] = "community") -> Template:
    """The resident's community board (masked), or their grid's or colour's, and where they stand on it."""
    account = await _resident_account(request)
    chosen = _period(period)
    context = {"account": account, "period": chosen, "period_kind": chosen.kind, "board": board, "rows": [], "mine": None,
               "stars": None, **HELPERS}
    if account:
        scope = service.Scope(account["community"])
        if board == "grid":
            scope = service.Scope(account["community"], node_path=await _grid_path_of(request))
        elif board == "colour" and account["colour"]:
            scope = service.Scope(account["community"], colour=account["colour"])
        else:
            context["board"] = "community"
        context["rows"] = await service.leaderboard(scope, chosen, limit=10)
        context["mine"] = await service.my_rank(scope, chosen, account["id"])
        if account["colour"] == "red":
            quarter = rules.period_of("quarter", _today())
            lines = await service.star_ratings(account["community"], quarter, account["id"])
            context["stars"] = {"quarter": quarter, "line": lines[0] if lines else None}
    return Template("standings/board.html", context=context)


async def _grid_path_of(request: Request) -> str | None:
    from backend.community.tables import Node
    from backend.people.tables import Person

    principal = await load_principal(request)
    row = await Person.select(Person.home.path.as_alias("path")).where(Person.id == principal.person_id).first()
    if not row:
        return None
    ids = [int(p) for p in row["path"].strip("/").split("/")]
    grid = await Node.select(Node.path).where(Node.id.is_in(ids) & (Node.kind == "grid")).first()
    # someone registered at the community itself (no grid) sees the community board
    return grid["path"] if grid else None


@get("/standings/statement", opt=VIEW)
async def my_statement(request: Request, year: FromQuery[int | None] = None, format: FromQuery[str] = "") -> Template | Response:
    account = await _resident_account(request)
    if account is None:
        raise NotFound("account_not_found")
    return await _statement(account["id"], year or _today().year, format, "/standings/statement")


# --- statements (a person's or organisation's year) ---------------------------------------------------------------

async def _statement(account_id: int, year: int, fmt: str, base: str) -> Template | Response:
    if not 2000 <= year <= 2100:
        raise InvalidInput("bad_period", field="year")
    statement = await service.statement(account_id, year)
    if fmt:
        heading = _("Yearly points statement %(year)s: %(name)s (%(community)s)", year=year, name=statement.account["name"],
                    community=statement.account["community_name"])
        rows = [[m.month.key, m.earned] for m in statement.monthly] + [[_("Total"), statement.total]]
        items = [[i["occurred_at"].astimezone(zone()).strftime("%Y-%m-%d"), i["label"] or i["memo"],
                  _(ITEM_KINDS.get(i["kind"], i["kind"])), i["points"]] for i in statement.items]
        if fmt == "xlsx":
            from io import BytesIO

            from openpyxl import load_workbook

            wb = load_workbook(BytesIO(reports.to_xlsx(_("By month"), [_("Month"), _("Points earned")], rows, heading)))
            sheet = wb.create_sheet(_("Items")[:31])
            sheet.append([_("Date"), _("What"), _("Kind"), _("Points")])
            for item in items:
                sheet.append(item)
            out = BytesIO()
            wb.save(out)
            return _download(out.getvalue(), f"statement-{account_id}-{year}", "xlsx")
        headers = [_("Month"), _("Points earned")]
        return _export(fmt, "", heading, headers, rows + [[]] + [[_("Date"), _("What"), _("Kind"), _("Points")]] + items,
                       f"statement-{account_id}-{year}")
    chart = charts.bar_chart(_("Points earned per month, %(year)s", year=year),
                             _("%(total)s points in the year.", total=statement.total),
                             [str(m.month.number) for m in statement.monthly], [m.earned for m in statement.monthly])
    return Template("standings/statement.html", context={"statement": statement, "chart": chart, "base": base,
                                                         "zone": zone(), **HELPERS})


@get("/staff/standings/statement/{account_id:int}", opt=MANAGE)
async def staff_statement(request: Request, account_id: FromPath[int], year: FromQuery[int | None] = None,
                          format: FromQuery[str] = "") -> Template | Response:
    from backend.accounts.service import account as account_row

    principal = await load_principal(request)
    account = await account_row(account_id)
    from backend.community.tables import Node

    node = await Node.select(Node.path).where(Node.id == account["community"]).first()
    await service.check_statement_access(principal, {**account, "community_path": node["path"]})
    return await _statement(account_id, year or _today().year, format, f"/staff/standings/statement/{account_id}")


# --- staff: boards ------------------------------------------------------------------------------------------------

async def _community(request: Request, community: str) -> tuple[list[dict], dict]:
    principal = await load_principal(request)
    communities = await service.communities_for(principal)
    if not communities:
        raise PermissionDenied("other_community")
    chosen = next((c for c in communities if c["id"] == _int(community)), None)
    if community and chosen is None:
        raise PermissionDenied("other_community")
    return communities, chosen or communities[0]


async def _board_context(request: Request, community: str, period: str, place: str, colour: str, kind: str,
                         masked: str) -> dict:
    communities, chosen = await _community(request, community)
    the_period = _period(period)
    grids = await service.grids_of(chosen["id"])
    buildings = await service.buildings_of(chosen["id"])
    places = {str(n["id"]): n for n in grids + buildings}
    node = places.get(place)
    scope = service.Scope(chosen["id"], node_path=node["path"] if node else None,
                          colour=colour if colour in rules.COLOURS else None,
                          kind=kind if kind in rules.BOARD_KINDS else "person")
    hide = masked != "0"
    rows = await service.leaderboard(scope, the_period, limit=50, masked=hide)
    query = f"community={chosen['id']}&period={the_period.key}&place={place if node else ''}&colour={scope.colour or ''}" \
            f"&kind={scope.kind}&masked={'1' if hide else '0'}"
    return {"communities": communities, "community": chosen, "period": the_period, "grids": grids, "buildings": buildings,
            "place": place if node else "", "place_name": node["name"] if node else None, "colour": scope.colour or "",
            "kind": scope.kind, "masked": hide, "rows": rows, "query": query, **HELPERS}


def _board_heading(ctx: dict) -> str:
    parts = [ctx["community"]["name"], period_label(ctx["period"])]
    if ctx["place_name"]:
        parts.append(ctx["place_name"])
    names = [COLOUR_NAMES[ctx["colour"]]] if ctx["colour"] else []
    names.append(KIND_NAMES[ctx["kind"]])
    parts += [_(name) for name in names]
    return " · ".join(parts)


@get("/staff/standings", opt=MANAGE)
async def staff_boards(request: Request, community: FromQuery[str] = "", period: FromQuery[str] = "", place: FromQuery[str] = "",
                       colour: FromQuery[str] = "", kind: FromQuery[str] = "person", masked: FromQuery[str] = "1",
                       done: FromQuery[str | None] = None) -> Template:
    ctx = await _board_context(request, community, period, place, colour, kind, masked)
    ctx["heading"] = _board_heading(ctx)
    ctx["flash"] = _flash(done)
    ctx["merchants"] = await service.merchant_ranking(ctx["community"]["id"], ctx["period"])
    return Template("standings/staff.html", context=ctx)


def _format(request: Request) -> str:
    return request.url.path.rsplit(".", 1)[-1]


@get(["/staff/standings/board.xlsx", "/staff/standings/board.csv"], opt=MANAGE)
async def board_export(request: Request, community: FromQuery[str] = "", period: FromQuery[str] = "",
                       place: FromQuery[str] = "", colour: FromQuery[str] = "", kind: FromQuery[str] = "person",
                       masked: FromQuery[str] = "1") -> Response:
    fmt = _format(request)
    ctx = await _board_context(request, community, period, place, colour, kind, masked)
    rows = [[r.rank, r.name, _(COLOUR_NAMES[r.colour]) if r.colour else "", r.earned] for r in ctx["rows"]]
    return _export(fmt, _("Ranking"), _board_heading(ctx), [_("Rank"), _("Name"), _("Colour"), _("Points earned")], rows,
                   f"ranking-{ctx['community']['id']}-{ctx['period'].key}")


# --- staff: grids and the quarter's selections ------------------------------------------------------------------

async def _grids_context(request: Request, community: str, period: str) -> dict:
    communities, chosen = await _community(request, community)
    quarter = _period(period, "quarter")
    if quarter.kind != "quarter":
        raise InvalidInput("bad_period", field="period")
    selection = await service.quarter_selection(chosen["id"], quarter)
    return {"communities": communities, "community": chosen, "period": quarter, "selection": selection,
            "red_flag_ids": {g.grid_id for g in selection.proposed}, **HELPERS}


@get("/staff/standings/grids", opt=MANAGE)
async def grids_page(request: Request, community: FromQuery[str] = "", period: FromQuery[str] = "",
                     done: FromQuery[str | None] = None) -> Template:
    ctx = await _grids_context(request, community, period)
    ctx["flash"] = _flash(done)
    return Template("standings/grids.html", context=ctx)


@get(["/staff/standings/grids.xlsx", "/staff/standings/grids.csv"], opt=MANAGE)
async def grids_export(request: Request, community: FromQuery[str] = "", period: FromQuery[str] = "") -> Response:
    fmt = _format(request)
    ctx = await _grids_context(request, community, period)
    rows = [[i + 1, g.name, g.residents, g.households, g.earned, round(g.per_resident, 2), round(g.per_household, 2),
             _("Yes") if g.grid_id in ctx["red_flag_ids"] else ""] for i, g in enumerate(ctx["selection"].grids)]
    heading = _("Grid ranking %(period)s: %(community)s", period=period_label(ctx["period"]), community=ctx["community"]["name"])
    return _export(fmt, _("Grids"), heading, [_("Rank"), _("Grid"), _("Residents"), _("Households"), _("Points earned"),
                                              _("Points per resident"), _("Points per household"), _("Red-flag grid")],
                   rows, f"grids-{ctx['community']['id']}-{ctx['period'].key}")


@post("/staff/standings/grids/confirm", opt=MANAGE)
async def confirm_grids(request: Request) -> Redirect:
    form = await request.form()
    community_id = _int(str(form.get("community", "")))
    quarter = rules.parse_period(str(form.get("period", "")))
    if community_id is None:
        raise InvalidInput("invalid", field="community")
    await service.confirm_selection(await load_principal(request), community_id, quarter, _now())
    return Redirect(f"/staff/standings/grids?community={community_id}&period={quarter.key}&done=selection", status_code=303)


# --- staff: stars -------------------------------------------------------------------------------------------------

@get("/staff/standings/stars", opt=MANAGE)
async def stars_page(request: Request, community: FromQuery[str] = "", period: FromQuery[str] = "") -> Template:
    communities, chosen = await _community(request, community)
    quarter = _period(period, "quarter")
    if quarter.kind != "quarter":
        raise InvalidInput("bad_period", field="period")
    settings = await service.settings_of(chosen["id"])
    return Template("standings/stars.html", context={
        "communities": communities, "community": chosen, "period": quarter, "months": quarter.months(),
        "lines": await service.star_ratings(chosen["id"], quarter), "thresholds": rules.parse_thresholds(settings["star_thresholds"]),
        **HELPERS})


# --- staff: yearly awards ------------------------------------------------------------------------------------------

async def _awards_page(request: Request, community: str, year: int | None, flash: dict | None = None,
                       status: int = 200) -> Template:
    communities, chosen = await _community(request, community)
    year = year or _today().year
    rows = await service.candidates(chosen["id"], year)
    by_category = {c: [r for r in rows if r["category"] == c] for c in rules.AWARD_CATEGORIES}
    return Template("standings/awards.html", context={"communities": communities, "community": chosen, "year": year,
                                                      "by_category": by_category, "flash": flash, **HELPERS},
                    status_code=status)


@get("/staff/standings/awards", opt=MANAGE)
async def awards_page(request: Request, community: FromQuery[str] = "", year: FromQuery[int | None] = None,
                      done: FromQuery[str | None] = None) -> Template:
    return await _awards_page(request, community, year, _flash(done))


@post("/staff/standings/awards/shortlist", opt=MANAGE)
async def draw_shortlist(request: Request) -> Template | Redirect:
    form = await request.form()
    community_id, year = _int(str(form.get("community", ""))), _int(str(form.get("year", "")))
    category = str(form.get("category", ""))
    try:
        if community_id is None or year is None:
            raise InvalidInput("invalid")
        await service.draw_shortlist(await load_principal(request), community_id, year, category, _now())
    except DomainError as exc:
        if isinstance(exc, (PermissionDenied, NotFound)):
            raise
        return await _awards_page(request, str(community_id or ""), year, {"kind": "error", "text": reason_text(exc.code, exc.params)},
                                  status_of(exc))
    return Redirect(f"/staff/standings/awards?community={community_id}&year={year}&done=shortlist", status_code=303)


@post("/staff/standings/awards/{candidate_id:int}/{move:str}", opt=MANAGE)
async def move_award(request: Request, candidate_id: FromPath[int], move: FromPath[str]) -> Template | Redirect:
    form = await request.form()
    principal = await load_principal(request)
    row = await service.candidate(candidate_id)
    try:
        await service.move_award(principal, candidate_id, move, str(form.get("note", "")), _now())
    except DomainError as exc:
        if isinstance(exc, (PermissionDenied, NotFound)):
            raise
        return await _awards_page(request, str(row["community"]), row["year"],
                                  {"kind": "error", "text": reason_text(exc.code, exc.params)}, status_of(exc))
    return Redirect(f"/staff/standings/awards?community={row['community']}&year={row['year']}&done={move}", status_code=303)


@get("/staff/standings/awards/{candidate_id:int}/certificate.pdf", opt=MANAGE)
async def certificate(request: Request, candidate_id: FromPath[int]) -> Response:
    from backend.people.rules import require_scope
    from backend.standings.certificate import certificate_pdf

    row = await service.candidate(candidate_id)
    require_scope(await load_principal(request), service.MANAGE, row["community_path"])
    if row["state"] != "awarded":
        raise NotFound("award_not_found")
    decided = (row["decided_at"] or _now()).astimezone(zone())
    award_name = AWARD_NAMES[row["category"]]
    pdf = certificate_pdf(title=_("Certificate of Honour"), award=_(award_name), name=row["name"],
                          citation=_("In %(year)s, for your service to your neighbours, you are awarded the title", year=row["year"]),
                          issuer=row["community_name"], date_text=decided.strftime("%Y-%m-%d"))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{candidate_id}.pdf"', "Cache-Control": "no-store"})


# --- staff: charts ---------------------------------------------------------------------------------------------

@get("/staff/standings/charts", opt=MANAGE)
async def charts_page(request: Request, community: FromQuery[str] = "", year: FromQuery[int | None] = None,
                      grid: FromQuery[str] = "") -> Template:
    communities, chosen = await _community(request, community)
    year = year or _today().year
    grids = await service.grids_of(chosen["id"])
    the_grid = next((g for g in grids if g["id"] == _int(grid)), None)
    months = Period("year", year, 1).months()
    series = await service.monthly_series(chosen["id"], months, the_grid["path"] if the_grid else None)
    mix = await service.category_mix(chosen["id"], Period("year", year, 1))
    mix_named = [(_("Volunteer hours") if k == "hours" else _("Other") if k == "other" else k, v) for k, v in mix]
    where = the_grid["name"] if the_grid else chosen["name"]
    labels = [str(m.number) for m in months]
    points = charts.bar_chart(_("Points earned per month in %(where)s, %(year)s", where=where, year=year),
                              _("%(total)s points in the year; the highest month had %(best)s.",
                                total=sum(s.earned for s in series), best=max((s.earned for s in series), default=0)),
                              labels, [s.earned for s in series])
    people = charts.bar_chart(_("People and organisations who earned points, per month, %(year)s", year=year),
                              _("The most active month had %(best)s earners.", best=max((s.earners for s in series), default=0)),
                              labels, [s.earners for s in series])
    share = charts.share_chart(_("Points by category, %(year)s", year=year),
                               _("%(count)s categories; the largest is %(name)s.", count=len(mix_named),
                                 name=mix_named[0][0] if mix_named else "-"), mix_named)
    return Template("standings/charts.html", context={
        "communities": communities, "community": chosen, "year": year, "grids": grids, "grid": the_grid, "series": series,
        "mix": mix_named, "points_chart": points, "people_chart": people, "mix_chart": share, **HELPERS})


# --- staff: settings and the public screen's address ------------------------------------------------------------

async def _settings_page(request: Request, community: str, flash: dict | None = None, form: dict | None = None,
                         status: int = 200) -> Template:
    communities, chosen = await _community(request, community)
    settings = await service.settings_of(chosen["id"])
    screen_url = f"{get_settings().base_url.rstrip('/')}/screen/{settings['screen_token']}" if settings["screen_token"] else None
    return Template("standings/settings.html", context={"communities": communities, "community": chosen,
                                                        "settings": {**settings, **(form or {})}, "screen_url": screen_url,
                                                        "flash": flash, **HELPERS},
                    status_code=status, headers={"Cache-Control": "no-store"})


@get("/staff/standings/settings", opt=MANAGE)
async def settings_page(request: Request, community: FromQuery[str] = "", done: FromQuery[str | None] = None) -> Template:
    return await _settings_page(request, community, _flash(done))


@post("/staff/standings/settings", opt=MANAGE)
async def save_settings(request: Request) -> Template | Redirect:
    form = await request.form()
    raw = {k: str(v) for k, v in form.items() if k != "_csrf_token"}
    community_id = _int(raw.get("community", ""))
    try:
        if community_id is None:
            raise InvalidInput("invalid", field="community")
        await service.save_settings(await load_principal(request), community_id, star_thresholds=raw.get("star_thresholds", ""),
                                    red_flag_count=_int(raw.get("red_flag_count", "").strip()),
                                    shortlist_size=_int(raw.get("shortlist_size", "").strip()), now=_now())
    except DomainError as exc:
        if isinstance(exc, (PermissionDenied, NotFound)):
            raise
        return await _settings_page(request, str(community_id or ""), {"kind": "error", "text": reason_text(exc.code, exc.params)},
                                    raw, status_of(exc))
    return Redirect(f"/staff/standings/settings?community={community_id}&done=settings", status_code=303)


@post("/staff/standings/screen", opt=MANAGE)
async def screen_token(request: Request) -> Redirect:
    form = await request.form()
    community_id = _int(str(form.get("community", "")))
    if community_id is None:
        raise InvalidInput("invalid", field="community")
    off = form.get("action") == "off"
    await service.new_screen_token(await load_principal(request), community_id, _now(), switch_off=off)
    return Redirect(f"/staff/standings/settings?community={community_id}&done={'token_off' if off else 'token'}", status_code=303)


# --- the public screen (晾晒积分) ------------------------------------------------------------------------------------

async def _screen_context(token: str) -> dict:
    community = await service.community_of_screen(token)
    today = _today()
    month, quarter = rules.period_of("month", today), rules.period_of("quarter", today)
    notice = None
    try:
        from backend.notices.service import published_board
    except ImportError:  # the monthly notice is another part of the app; the screen works without it
        published_board = None
    if published_board is not None:
        notice = await published_board(community["id"], limit=10)
    return {"community": community, "token": token, "month": month, "quarter": quarter,
            "board": await service.leaderboard(service.Scope(community["id"]), month, limit=10),
            "grids": (await service.grid_scores(community["id"], quarter))[:10], "notice": notice,
            "updated": _now().astimezone(zone()).strftime("%H:%M"), "seconds": SCREEN_SECONDS, **HELPERS}


@get("/screen/{token:str}", opt=PUBLIC)
async def screen(token: FromPath[str]) -> Template:
    return Template("standings/screen.html", context=await _screen_context(token),
                    headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"})


@get("/screen/{token:str}/boards", opt=PUBLIC)
async def screen_boards(token: FromPath[str]) -> Template:
    """What the screen's HTMX poll swaps in."""
    return Template("standings/_screen_boards.html", context=await _screen_context(token),
                    headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


ROUTES = [resident_board, my_statement, staff_statement, staff_boards, board_export, grids_page, grids_export, confirm_grids,
          stars_page, awards_page, draw_shortlist, move_award, certificate, charts_page, settings_page, save_settings,
          screen_token, screen, screen_boards]
