"""The words a person sees for each domain reason code. Codes are stable; the words are translated."""
from backend.web.i18n import N_, gettext

REASONS: dict[str, str] = {
    "error": N_("Something went wrong. Please try again."),
    "not_found": N_("Not found."),
    "forbidden": N_("You are not allowed to do this."),
    "not_signed_in": N_("Please sign in first."),
    "session_expired": N_("Your session has expired. Please sign in again."),
    "bad_credentials": N_("Wrong username or password."),
    "login_locked": N_("Too many wrong passwords. Sign-in is locked for 15 minutes."),
    "other_community": N_("This belongs to another community, which you do not manage."),
    "invalid": N_("The request is not valid."),
    "csrf": N_("The form has expired. Please reload the page and try again."),
    "unknown_kind": N_("Unknown transaction kind."),
    "memo_required": N_("Please give a reason."),
    "memo_too_long": N_("The reason is too long (at most %(max)s characters)."),
    "bad_idempotency_key": N_("The request has no valid idempotency key."),
    "naive_time": N_("The time has no time zone."),
    "unbalanced": N_("The postings do not add up to zero."),
    "duplicate_account": N_("An account appears twice in one transaction."),
    "bad_amount": N_("Points must be a whole number between 1 and 1,000,000."),
    "idempotency_key_reused": N_("This request was already used for a different transaction."),
    "already_recorded": N_("This was already recorded; nothing was added twice."),
    "insufficient_balance": N_("Not enough points: the balance is %(balance)s, %(needed)s are needed."),
    "already_reversed": N_("This transaction has already been reversed."),
    "reversal_of_reversal": N_("A reversal cannot be reversed. Record a new transaction instead."),
    "account_not_found": N_("Account not found."),
    "transaction_not_found": N_("Transaction not found."),
    "person_not_found": N_("Person not found."),
    "user_not_found": N_("User not found."),
    "node_not_found": N_("Place not found in the community tree."),
    "not_in_a_community": N_("This place is not inside a community."),
    "bad_node_kind": N_("This kind of place cannot sit there in the tree."),
    "name_required": N_("Please enter a name."),
    "bad_username": N_("Please enter a username of at most 64 characters."),
    "username_taken": N_("The username %(username)s is already taken."),
    "unknown_role": N_("Unknown role."),
    "role_needs_node": N_("A staff role must be granted on a place in the tree."),
    "password_too_short": N_("The password must have at least %(min)s characters."),
    "no_issuer": N_("This community has no issuing account yet."),
    "bad_direction": N_("Choose award or deduction."),
    "file_required": N_("Please choose a file."),
    "file_too_large": N_("The file is too large (at most %(max_mb)s MB)."),
    "unreadable_file": N_("The file could not be read. Use .xlsx or .csv (UTF-8 or GBK)."),
    "missing_columns": N_("The sheet lacks the columns: %(columns)s."),
    "too_many_rows": N_("The sheet has too many rows (at most %(max)s)."),
    "import_has_errors": N_("Fix the rows with errors first, then upload again."),
    "import_not_pending": N_("This import was already committed or has failed."),
    "empty_sheet": N_("The sheet has no rows."),
    # residents imported from a sheet (backend/imports)
    "import_not_found": N_("Import not found."),
    "community_required": N_("Please choose a community."),
    "import_failed": N_("The import failed; nothing was saved."),
    "name_missing": N_("The name is missing."),
    "name_too_long": N_("The name is too long (at most %(max)s characters)."),
    "bad_phone": N_("“%(value)s” is not an 11-digit mobile number. In Excel, format the phone column as text."),
    "place_missing": N_("Grid and building are both required."),
    "unknown_place": N_("There is no %(place)s in this community."),
    "ambiguous_place": N_("%(place)s exists in more than one compound: add a compound (小区) column."),
    "bad_flag": N_("“%(value)s” is not a yes/no answer: write 是 or 否."),
    "bad_points": N_("Opening points must be a whole number from 0 to %(max)s, not “%(value)s”."),
    "duplicate_in_file": N_("The same person is already in row %(first)s."),
    "already_registered": N_("This person is already registered in the community."),
}


def reason_text(code: str, params: dict | None = None) -> str:
    template = REASONS.get(code, REASONS["error"])
    try:
        return gettext(template, **(params or {}))
    except (KeyError, ValueError, TypeError):
        return gettext(template)
