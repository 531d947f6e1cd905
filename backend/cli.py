"""The `linli` command line: database migrations, demo data, the web server, users, ledger checks, service cards
and their signing keys.

Exit codes: 0 done; 1 the command ran and found a problem (pending migrations, a domain error, a ledger
that does not add up); 2 the database cannot be used (unreachable, or behind its migrations).
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

T = TypeVar("T")

EXIT_PROBLEM = 1
EXIT_UNUSABLE = 2


def _fail(message: str, code: int = EXIT_PROBLEM) -> NoReturn:
    click.echo(f"linli: {message}", err=True)
    sys.exit(code)


class _Unusable(Exception):
    """The database cannot be used: unreachable, or behind its migrations."""


def _run(work: Callable[[], Awaitable[T]], *, ready: bool = True) -> T:
    """Open the engine, check (when `ready`) that the schema is current, run `work`, close the engine.
    An unusable database ends the command with exit code 2 and one line saying what to do."""
    from backend import db
    from backend.settings import get_settings
    from backend.standings import rollup

    async def main() -> T:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # piccolo warns "Unable to connect" on top of the error itself
                await db.prepare()
        except Exception as exc:  # the drivers raise their own types (OSError, asyncpg and sqlite3 errors)
            raise _Unusable(f"cannot reach the database ({type(exc).__name__}: {exc})") from exc
        try:
            if ready:
                await db.check_ready()
                await rollup.ensure(get_settings().timezone)
            return await work()
        except db.DatabaseUnavailable as exc:
            raise _Unusable(str(exc)) from exc
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except _Unusable as exc:
        _fail(str(exc), EXIT_UNUSABLE)


def _domain_message(exc: Any) -> str:
    """A DomainError as one readable line: its stable code, then its parameters."""
    params = ", ".join(f"{k}={v}" for k, v in exc.params.items())
    return f"{exc.code}" + (f" ({params})" if params else "")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Linli (邻里积分): community points with QR/NFC service cards.

    The database comes from LINLI_DATABASE_URL (see backend/settings.py)."""


# --- db -------------------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Create and upgrade the database schema."""


@db.command()
def migrate() -> None:
    """Apply every migration that has not run yet (all apps)."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager
    from piccolo.apps.migrations.commands.forwards import run_forwards

    async def work() -> tuple[int, Any, str]:
        pending = await CheckMigrationManager("all").havent_ran_count()
        output = io.StringIO()
        # piccolo narrates every step; keep it for when something goes wrong
        with contextlib.redirect_stdout(output):
            try:
                result = await run_forwards(app_name="all", migration_id="all", fake=False)
            except Exception as exc:
                result = exc
        return pending, result, output.getvalue()

    pending, result, output = _run(work, ready=False)
    if isinstance(result, Exception) or not result.success:
        click.echo(output, err=True, nl=False)
        message = f"{type(result).__name__}: {result}" if isinstance(result, Exception) else result.message
        _fail(f"migration failed: {message}")
    click.echo(f"applied {pending} migration(s)" if pending else "database is up to date, nothing to apply")


@db.command()
def check() -> None:
    """Say how many migrations are pending; exit 1 if there are any."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    from backend import db as database

    async def work() -> tuple[int, str | None]:
        try:
            await database.check_ready()
        except database.DatabaseUnavailable as exc:
            try:
                pending = await CheckMigrationManager("all").havent_ran_count()
            except Exception:
                pending = 0
            if not pending:
                raise  # not behind: unreachable, exit 2
            return pending, str(exc)
        return 0, None

    pending, problem = _run(work, ready=False)
    click.echo(f"pending migrations: {pending}")
    if problem:
        _fail(problem)


# --- demo -----------------------------------------------------------------------------------------------

@main.group()
def demo() -> None:
    """Demo data: a believable community to try Linli with."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo community (红旗街道) into the database; does nothing if it is there already.

    All demo users sign in with the password linli-demo-2026."""
    from backend.demo import DEMO_PASSWORD, load_demo

    summary = _run(load_demo)
    if not summary.created:
        click.echo("demo data is already loaded; nothing written")
        return
    click.echo(f"demo data loaded in {summary.seconds:.1f} s:")
    click.echo(f"  {summary.nodes} places, {summary.persons} residents")
    click.echo("  accounts: " + ", ".join(f"{k} {v}" for k, v in summary.accounts.items())
               + " (person accounts: " + ", ".join(f"{k} {v}" for k, v in summary.colours.items()) + ")")
    click.echo(f"  {summary.transaction_count} transactions: "
               + ", ".join(f"{k} {v}" for k, v in summary.transactions.items()))
    click.echo(f"users (password {DEMO_PASSWORD}):")
    for username, name in summary.users.items():
        click.echo(f"  {username:<10} {name}")


# --- serve ----------------------------------------------------------------------------------------------

@main.command()
@click.option("--host", help="Address to listen on [default: LINLI_HOST or 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [default: LINLI_PORT or 8000].")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes (PostgreSQL only: SQLite has one writer, so one process serves it best).")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="A line on stdout for every request (every scan is stored anyway; off saves CPU under load).")
def serve(host: str | None, port: int | None, reload: bool, workers: int, access_log: bool) -> None:
    """Run the web application.

    Refuses to start (exit 2) if the database is unreachable or behind its migrations."""
    import uvicorn

    from backend import serving
    from backend.settings import get_settings

    async def ready() -> None:
        pass  # _run has already checked that the database is reachable and migrated

    settings = get_settings()
    if workers > 1 and not settings.is_postgres:
        _fail("--workers above 1 needs PostgreSQL (SQLite is served by one process)")
    _run(ready)
    host, port = host or settings.host, port or settings.port
    if workers > 1 and not reload and serving.balanced():  # a socket a worker: see backend/serving.py
        sys.exit(serving.run(host, port, workers, access_log))
    uvicorn.run(serving.APP, factory=True, host=host, port=port, reload=reload, workers=workers if workers > 1 else None,
                access_log=access_log)


# --- users ----------------------------------------------------------------------------------------------

def _roles() -> list[str]:
    from backend.people.rules import STAFF_ROLES

    return list(STAFF_ROLES)


@main.group()
def users() -> None:
    """Sign-in accounts for staff and residents."""


@users.command("create")
@click.argument("username")
@click.option("--display-name", required=True, help="The name shown in the interface.")
@click.option("--role", type=click.Choice(_roles()), help="A staff role, granted on --node.")
@click.option("--node", "node_id", type=int, help="Id of the community node the role covers (and everything below).")
@click.option("--merchant-account", "merchant_account_id", type=int, help="For merchant_clerk: the merchant's account id.")
@click.option("--person", "person_id", type=int, help="Id of the resident this user signs in as.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def users_create(username: str, display_name: str, role: str | None, node_id: int | None,
                 merchant_account_id: int | None, person_id: int | None, password_stdin: bool) -> None:
    """Create the user USERNAME; asks for the password twice unless --password-stdin."""
    from backend.errors import DomainError
    from backend.people import service as people
    from backend.people.tables import Person

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work() -> int | str:
        if person_id is not None and not await Person.exists().where(Person.id == person_id):
            return f"person_not_found (person={person_id})"
        try:
            return await people.create_user(username, password, display_name, person_id=person_id, role=role,
                                            node_id=node_id, merchant_account_id=merchant_account_id)
        except DomainError as exc:
            return _domain_message(exc)

    result = _run(work)
    if isinstance(result, str):
        _fail(f"cannot create user {username!r}: {result}")
    click.echo(f"created user {username!r} (id {result})" + (f" as {role} on node {node_id}" if role else ""))


# --- ledger ---------------------------------------------------------------------------------------------

@main.group()
def ledger() -> None:
    """Checks on the points ledger."""


@ledger.command()
def verify() -> None:
    """Prove every cached balance equals the sum of its postings, every transaction sums to zero, and every
    monthly notice's fingerprint still matches the ledger (a closed month was not rewritten).

    Exits 1 and lists the problems if not."""
    from backend.accounts.tables import Account
    from backend.ledger import service
    from backend.ledger.tables import LedgerTransaction

    from backend.notices import service as notices

    async def work() -> tuple[list[Any], list[Any], int, int, int]:
        return (await service.verify(), await notices.verify_chain(), await Account.count(),
                await LedgerTransaction.count(), await notices.Notice.count())

    problems, chain, accounts, transactions, notice_count = _run(work)
    if not problems and not chain:
        notices_ok = f", {notice_count} monthly notice fingerprint(s) match" if notice_count else ""
        click.echo(f"ledger OK: {accounts} accounts, {transactions} transactions{notices_ok}")
        return
    for p in problems:
        if p.what == "balance_mismatch":
            click.echo(f"balance_mismatch: account {p.ref} has balance {p.found}, its postings sum to {p.expected}")
        else:
            click.echo(f"{p.what}: transaction {p.ref} postings sum to {p.found}, expected {p.expected}")
    # a monthly notice whose fingerprint no longer matches: a ledger row of a closed month was changed afterwards
    for c in chain:
        click.echo(f"{c.what}: monthly notice {c.notice_id} (community {c.community_id}, {c.month}) carries "
                   f"fingerprint {c.found or '(none)'}, the ledger now gives {c.expected}: its history was rewritten")
    _fail(f"ledger has {len(problems) + len(chain)} problem(s)")


if __name__ == "__main__":
    main()


@main.group("standings")
def standings_group() -> None:
    """The standings rollup that boards read."""


@standings_group.command("rebuild")
def standings_rebuild() -> None:
    """Rebuild the points per account and period that boards read, from the whole ledger. A trigger keeps them as
    the ledger is written, so this is only needed after ledger rows were edited in place (never done by Linli)."""
    from backend.settings import get_settings
    from backend.standings import rollup

    zone = get_settings().timezone

    async def work() -> int:
        differing = len(await rollup.differences(zone))
        await rollup.install(zone)
        return differing

    differing = _run(work)
    click.echo(f"standings rebuilt from the ledger ({zone}); {differing} row(s) had differed")


@main.group()
def i18n() -> None:
    """The translation catalogue (frontend/locale)."""


@i18n.command("missing")
@click.option("--language", default="zh_CN", show_default=True, help="Catalogue to check.")
def i18n_missing(language: str) -> None:
    """Print the strings that lack a translation, as a .po skeleton; exit 1 when there are any."""
    from backend.web.i18n import missing, missing_po

    click.echo(missing_po(language))
    if missing(language):
        sys.exit(EXIT_PROBLEM)


# --- service cards --------------------------------------------------------------------------------------

def _run_domain(work: Callable[[], Awaitable[T]]) -> T:
    """_run, with a domain error ending the command (exit 1) on one line: its code and parameters."""
    from backend.errors import DomainError

    async def guarded() -> T | DomainError:
        try:
            return await work()
        except DomainError as exc:
            return exc

    result = _run(guarded)
    if isinstance(result, DomainError):
        _fail(_domain_message(result))
    return result


@main.group("cards")
def cards_group() -> None:
    """Service cards: list them, show one card's code, print sheets of cards."""


@cards_group.command("list")
@click.option("--node", type=int, help="Only the cards of people living under this place (and organisations in it).")
@click.option("--state", type=click.Choice(["all", "active", "revoked"]), default="all", show_default=True)
def cards_list(node: int | None, state: str) -> None:
    """One card a line, in the order they were issued, tab-separated: card number, state, holder (masked),
    account id."""
    from backend.servicecards import service

    async def work() -> list[Any]:
        path = (await service.place(node))["path"] if node is not None else None
        return await service.cards_under(path, None if state == "all" else state)

    for view in sorted(_run_domain(work), key=lambda v: v.pk):
        click.echo(f"{view.number}\t{view.state}\t{view.masked_name}\t{view.account_id}")


@cards_group.command("show")
@click.argument("number")
@click.option("--format", "fmt", type=click.Choice(["url", "png", "svg", "ndef"]), default="url", show_default=True,
              help="url: the link on the QR code and NFC tag; png / svg: the QR code; ndef: the NDEF message "
                   "(one URI record) for an NFC tag. png and ndef are raw bytes.")
def cards_show(number: str, fmt: str) -> None:
    """Write the code of the working card NUMBER (spaces and dashes allowed) to standard output."""
    import cards as cardlib

    from backend.servicecards import service

    async def work() -> tuple[Any, str | None]:
        view = await service.card_by_number(number)
        return view, (await service.card_url(view) if view.active else None)

    view, url = _run_domain(work)
    if url is None:
        _fail(f"card {view.formatted_number} is revoked ({view.revoke_reason}); its code no longer works")
    if fmt == "url":
        click.echo(url)
    elif fmt == "svg":
        click.echo(cardlib.qr_svg(url), nl=False)
    else:
        data = cardlib.qr_png(url) if fmt == "png" else cardlib.ndef_uri_message(url)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@cards_group.command("print")
@click.option("--node", type=int, required=True, help="Id of a community, grid or building (see /staff).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="A .pdf file (all pages) or .svg (one file per page: name.svg, name-2.svg, …) "
                   "[default: cards-<node>.pdf].")
@click.option("--language", type=click.Choice(["zh_CN", "en"]), help="Language of the printed labels "
              "[default: LINLI_DEFAULT_LANGUAGE].")
def cards_print(node: int, output: Path | None, language: str | None) -> None:
    """Print the working cards of the people under a place on A4 sheets of ten CR80 cards (85.6 × 54 mm),
    ordered by building, unit and name, with cut marks."""
    import time

    import cards as cardlib

    from backend.errors import NotFound
    from backend.servicecards import service
    from backend.settings import get_settings
    from backend.web import i18n

    i18n.current_language.set(language or get_settings().default_language)
    title, label = i18n.gettext("Convenience service card"), i18n.gettext("Card no.")
    output = output or Path(f"cards-{node}.pdf")
    if output.suffix.lower() not in (".pdf", ".svg"):
        _fail("--output must end in .pdf or .svg")
    started = time.perf_counter()

    async def work() -> list[Any]:
        place = await service.place(node)
        views = await service.cards_under(place["path"], "active")
        if not views:
            raise NotFound("no_cards_to_print")
        return await service.faces(views, title, label)

    faces = _run_domain(work)
    if output.suffix.lower() == ".pdf":
        output.write_bytes(cardlib.render_sheet_pdf(faces))
        written = [output]
    else:
        pages = cardlib.render_sheet_svg(faces)
        written = [output if i == 0 else output.with_name(f"{output.stem}-{i + 1}{output.suffix}")
                   for i in range(len(pages))]
        for path, page in zip(written, pages, strict=True):
            path.write_text(page, encoding="utf-8")
    pages_count = -(-len(faces) // cardlib.sheet.CARDS_PER_PAGE)
    click.echo(f"{len(faces)} card{'s' if len(faces) != 1 else ''} on {pages_count} page{'s' if pages_count != 1 else ''}"
               f" in {time.perf_counter() - started:.1f} s: " + ", ".join(str(p) for p in written))


@main.group()
def keys() -> None:
    """The Ed25519 keys that sign card codes (kept in the database; see README)."""


@keys.command("rotate")
@click.option("--retire", type=int, metavar="KEY_ID", help="Also retire this key: codes it signed stop verifying "
              "(unknown_key). Refused while working cards use it, unless --force.")
@click.option("--force", is_flag=True, help="Retire the key even though working cards still use it.")
def keys_rotate(retire: int | None, force: bool) -> None:
    """Add a signing key that new cards and phone codes use from now on; older keys keep verifying."""
    from datetime import datetime, timezone

    from backend.servicecards import service

    new, retired = _run_domain(lambda: service.rotate_keys(datetime.now(timezone.utc), retire, force))
    click.echo(f"added key {new}: new cards and phone codes are signed with it; older keys keep verifying")
    if retired is not None:
        click.echo(f"retired key {retired}: codes it signed are now rejected as unknown_key")


@keys.command("list")
def keys_list() -> None:
    """One key a line: key id, created, state, working cards signed with it, public key (base64url)."""
    import base64

    from backend.servicecards import service

    for key in _run_domain(service.keys_overview):
        public = base64.urlsafe_b64encode(bytes.fromhex(key["public_key"])).rstrip(b"=").decode()
        state = "retired" if key["retired_at"] else "active"
        click.echo(f"{key['key_id']}\t{key['created_at']:%Y-%m-%d %H:%M}\t{state}\t{key['active_cards']} cards\t{public}")


# --- events ---------------------------------------------------------------------------------------------

@main.group()
def events() -> None:
    """Events and volunteer check-in / check-out."""


@events.command("close-ended")
def events_close_ended() -> None:
    """Check out, at its end, everyone still checked in at an event that is over, and write their points.
    Viewing a roster does the same for one event; run this from cron (e.g. every 15 minutes) so every
    volunteer's points arrive even when nobody looks."""
    from datetime import datetime, timezone

    from backend.events import service

    closed_events, stays = _run_domain(lambda: service.close_ended(datetime.now(timezone.utc)))
    click.echo(f"checked out {stays} volunteer{'s' if stays != 1 else ''} at {closed_events} "
               f"event{'s' if closed_events != 1 else ''} that had ended")
