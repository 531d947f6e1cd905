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


REASONS.update({
    "device_unknown": N_("This device is not paired with a station. Ask staff to pair it."),
    "device_revoked": N_("This device has been switched off by staff. Ask them to pair it again."),
    "pairing_unknown": N_("This pairing code is not valid."),
    "pairing_used": N_("This pairing code has already been used. Ask staff for a new one."),
    "pairing_expired": N_("This pairing code has expired. Ask staff for a new one."),
    "station_not_found": N_("Station not found."),
    "bad_station_kind": N_("Unknown kind of station."),
    "unknown_mode": N_("Unknown scan mode."),
    "mode_not_allowed": N_("This station may not do that."),
    "mode_not_available": N_("This kind of scan is not available yet."),
    "item_not_allowed": N_("This item cannot be awarded at this station."),
    "unknown_item": N_("Unknown catalogue item."),
    "item_not_in_force": N_("This item had no points value on %(day)s."),
    "colour_not_eligible": N_("This account cannot earn this item."),
    "pin_required": N_("Spending %(points)s points needs the card holder's PIN."),
    "batch_too_large": N_("Too many scans in one request (at most %(max)s)."),
    "nothing_to_undo": N_("Only an accepted scan can be undone."),
    "already_undone": N_("This scan has already been undone."),
    "undo_expired": N_("It is too late to undo this scan; ask staff to reverse it."),
    "scan_not_found": N_("This scan was not made at this station."),
})

SCAN_SUCCESS = {
    "award": N_("%(points)s points awarded."),
    "checkin": N_("Checked in."),
    "checkout": N_("Checked out: %(points)s points for the hours served."),
    "redeem_shop": N_("Redeemed for %(spent)s points."),
    "redeem_offer": N_("Redeemed for %(spent)s points."),
    "report_in": N_("Checked in for this month: %(points)s points."),
}


def scan_success_text(answer: dict) -> str:
    text = gettext(SCAN_SUCCESS.get(answer["mode"], N_("Done.")), points=answer["points"], spent=-answer["points"])
    # a mode's notes on an accepted scan (a cap that left out the points, a check-in outside its week)
    notes = (answer.get("summary") or {}).get("notes")
    for note in notes if isinstance(notes, list) else []:
        if isinstance(note, dict) and isinstance(note.get("reason"), str):
            text += " " + reason_text(note["reason"], note)
    return text


def reason_text(code: str, params: dict | None = None) -> str:
    template = REASONS.get(code, REASONS["error"])
    try:
        return gettext(template, **(params or {}))
    except (KeyError, ValueError, TypeError):
        return gettext(template)


# service cards (backend/servicecards): why a card code is refused (the cards.Reason codes), and card actions.
# "pin_required" is the scan service's (above): check_pin raises it, the scan service adds the points.
REASONS.update({
    "malformed": N_("This is not a valid card code or card number."),
    "unknown_version": N_("This card code comes from an unknown version of the system."),
    "unknown_key": N_("This card code was signed with a key that is no longer valid. Please get a new card."),
    "bad_signature": N_("This card code is forged or damaged: its signature does not match."),
    "expired": N_("This phone code has expired. Please show a fresh code."),
    "revoked": N_("This card has been reported lost or replaced and no longer works."),
    "unknown_card": N_("There is no card with this code or number."),
    "card_not_found": N_("Card not found."),
    "card_already_active": N_("This account already has a working card. If it is lost, report it lost to get a new one."),
    "card_not_active": N_("This card no longer works."),
    "no_card_for_account_kind": N_("Only residents and organisations get service cards."),
    "account_inactive": N_("This account is closed."),
    "card_key_retired": N_("This card was signed with a retired key: report it replaced to get a new card."),
    "key_not_found": N_("There is no signing key %(key_id)s."),
    "key_already_retired": N_("Signing key %(key_id)s is already retired."),
    "key_in_use": N_("Signing key %(key_id)s still signs %(cards)s working cards: replace them first."),
    "no_key_ids_left": N_("All 255 signing key ids are used."),
    "bad_card_number": N_("Please enter a 10-digit card number."),
    "bad_revoke_reason": N_("Unknown reason for withdrawing a card."),
    "not_your_card": N_("This is not your card."),
    "no_cards_to_print": N_("There are no working cards to print here."),
    "current_pin_required": N_("Please enter your current PIN."),
    "pin_not_set": N_("This card has no PIN yet. The holder can set one under “My card”."),
    "wrong_pin": N_("Wrong PIN. %(remaining)s more tries before the PIN is locked."),
    "pin_locked": N_("Too many wrong PINs. The PIN is locked for %(minutes)s minutes."),
    "bad_pin": N_("The PIN must be exactly %(length)s digits."),
    "pin_mismatch": N_("The two PINs are not the same."),
    "pin_too_simple": N_("This PIN is too easy to guess (like 123456 or 111111). Please choose another."),
})

# stations and their devices (backend/stations): setting up a station, and the station screen's photo upload
REASONS.update({
    "modes_required": N_("Choose at least one thing this station may do."),
    "item_not_in_community": N_("Only items of this community's catalogue can be awarded here."),
    "award_items_required": N_("Choose at least one catalogue item this station may award."),
    "bad_receiving_account": N_("Redeemed points can only go to this community's points shop or one of its merchants."),
    "bad_setting": N_("Please enter a whole number from 0 to 1,000,000."),
    "no_code_found": N_("No card code was found in the photo. Hold the card flat, in good light, and try again — or type the card number."),
})

# redemption (backend/redemption): the points shop's goods and windows, merchants' offers and statements
REASONS.update({
    "no_receiving_account": N_("This station has no account to receive points. Ask staff to set one up."),
    "goods_not_allowed": N_("These goods are not redeemed at this station."),
    "goods_not_found": N_("Goods not found."),
    "bad_quantity": N_("The quantity must be a whole number from 1 to %(max)s."),
    "out_of_stock": N_("Not enough in stock: %(stock)s left."),
    "outside_window": N_("The points shop is closed today. Redemption window: %(opens)s to %(closes)s."),
    "offer_not_allowed": N_("This offer is not accepted at this station."),
    "offer_not_found": N_("Offer not found."),
    "offer_expired": N_("This offer is not valid today."),
    "offer_limit_reached": N_("This offer has run out: all %(limit)s have been redeemed."),
    "person_limit_reached": N_("This card holder has already redeemed this offer %(limit)s times, the most allowed."),
    "bad_price": N_("The points price must be a whole number from 1 to %(max)s."),
    "bad_stock": N_("The stock must be a whole number from 0 to %(max)s."),
    "bad_restock": N_("Add a whole number from 1 to %(max)s."),
    "bad_limit": N_("A limit must be a whole number from 1 to %(max)s, or left empty for no limit."),
    "offer_title_required": N_("Please enter the offer's title."),
    "gives_required": N_("Please say what the holder gets."),
    "text_too_long": N_("The text is too long (at most %(max)s characters)."),
    "offer_dates": N_("Please give the first and last day of the offer; the last cannot be before the first."),
    "window_dates": N_("Please give the first and last day of the window; the last cannot be before the first."),
    "window_not_found": N_("Redemption window not found."),
    "not_a_merchant": N_("Merchant not found."),
    "other_merchant": N_("This belongs to another merchant."),
})

# events and volunteer check-in / check-out (backend/events)
REASONS.update({
    "event_not_found": N_("Event not found."),
    "event_required": N_("Choose the event first."),
    "event_elsewhere": N_("This event belongs to another community, not this station's."),
    "event_cancelled": N_("This event has been cancelled."),
    "outside_event_hours": N_("Not open at this time: it is open from %(opens)s to %(closes)s."),
    "already_checked_in": N_("Already checked in."),
    "event_full": N_("This event is full."),
    "not_checked_in": N_("Not checked in at this event, so there is nothing to check out."),
    "already_checked_out": N_("Already checked out."),
    "event_over": N_("This event is over."),
    "event_started": N_("The event has started: the sign-up can no longer be withdrawn."),
    "event_has_attendance": N_("People have already checked in, so the event cannot be cancelled."),
    "title_required": N_("Please enter a title."),
    "title_too_long": N_("The title is too long (at most %(max)s characters)."),
    "place_required": N_("Please enter the place."),
    "place_too_long": N_("The place is too long (at most %(max)s characters)."),
    "bad_time": N_("Please enter a date and time."),
    "ends_before_start": N_("The end must be after the start."),
    "event_too_long": N_("An event lasts at most %(days)s days."),
    "bad_capacity": N_("The number of places must be a whole number from 1 to %(max)s, or empty for no limit."),
    "award_rule_required": N_("Choose how points are given: points per hour, or a catalogue item."),
    "bad_points_per_hour": N_("Points per hour must be a whole number from 1 to %(max)s."),
})

# the points catalogue (backend/catalog): the editor, revision sets, and the per-person caps of every award
REASONS.update({
    "bad_cap": N_("A limit must be a whole number from 1 to %(max)s, or left empty for no limit."),
    "bad_colour": N_("Unknown kind of account."),
    "bad_item_points": N_("Points must be a whole number from 1 to %(max)s."),
    "bad_date": N_("Please enter a date."),
    "revision_too_early": N_("A revision can take effect from %(first)s (the first day of this month) at the earliest."),
    "revision_too_late": N_("A revision can take effect at most a year ahead."),
    "no_changes": N_("No value was changed: there is nothing to publish."),
    "note_required": N_("Please say what was changed and why."),
    "category_exists": N_("There is already a category called %(name)s."),
    "category_required": N_("Please choose a category."),
    "daily_cap_reached": N_("This item can be earned at most %(limit)s times a day per person."),
    "monthly_cap_reached": N_("This item can be earned at most %(limit)s times a month per person."),
    "yearly_cap_reached": N_("This item can be earned at most %(limit)s times a year per person."),
})

# points claims and their weekly review (backend/claims)
REASONS.update({
    "item_required": N_("Please choose what you did."),
    "deed_in_future": N_("The date of the deed cannot be in the future."),
    "deed_too_old": N_("Deeds can be claimed up to %(days)s days later. This one is older."),
    "description_required": N_("Please describe what you did."),
    "evidence_required": N_("This item needs a photo as evidence."),
    "photo_not_image": N_("The photo could not be read. Please use a JPEG or PNG picture."),
    "photo_too_many_pixels": N_("The picture is too large. Please send a smaller photo."),
    "not_your_building": N_("Building leads can file claims only for residents of their own building."),
    "own_claim": N_("You cannot review your own claim."),
    "filed_by_reviewer": N_("You cannot review a claim you filed for someone else."),
    "claim_decided": N_("This claim has already been decided."),
    "claim_not_confirmed": N_("The resident has not confirmed this claim yet."),
    "second_reviewer_needed": N_("Claims of %(points)s points or more need a second, different reviewer."),
    "reason_required": N_("Please give a reason."),
    "nothing_selected": N_("Please select at least one claim."),
    "nothing_to_confirm": N_("This claim is not waiting for your confirmation."),
    "claim_not_found": N_("Claim not found."),
})

# micro-wishes (backend/wishes)
REASONS.update({
    "wish_not_found": N_("Wish not found."),
    "wish_not_yours": N_("This wish is not yours to act on."),
    "wish_state": N_("This cannot be done any more: someone has changed the wish in the meantime."),
    "wish_kind_required": N_("Please choose what kind of help is needed."),
    "wish_description_required": N_("Please describe what help is needed."),
    "wish_note_required": N_("Please write a few words."),
    "wish_helper_required": N_("Choose one volunteer or one team."),
    "wish_helper_elsewhere": N_("This volunteer or team is not in the wish's community."),
    "wish_needs_helper": N_("The wish has no volunteer yet: dispatch it first."),
    "bad_rating": N_("Please choose from 1 to 5 stars."),
    "no_item_for_kind": N_("No catalogue item earns points for this kind of wish."),
    "person_required": N_("Please choose the resident."),
    # the wish settings page (/staff/wishes/settings)
    "wish_item_not_in_force": N_("This catalogue item has no points in force today: choose another one."),
    "wish_team_not_found": N_("Team not found."),
    "wish_member_elsewhere": N_("This person does not live in the team's community."),
    "wish_member_required": N_("Please choose a person to add."),
    "wish_day_past": N_("This day has passed: only today and later days can be changed."),
    "wish_workday_not_weekend": N_("A make-up working day must be a Saturday or a Sunday."),
    "wish_day_kind_required": N_("Please choose a holiday or a make-up working day."),
    "wish_day_note_long": N_("The note is too long (at most %(max)s characters)."),
})


# in-service members' monthly home check-in (backend/inservice), and the notes an accepted scan may carry
REASONS.update({
    "not_in_service_member": N_("This card holder is not registered as an in-service party member here."),
    "member_of_other_community": N_("This member checks in at %(community)s, not at this station's community."),
    "already_reported": N_("Already checked in for %(month)s: once a month is enough."),
    "outside_report_week": N_("Check-ins are taken in the last days of the month only: %(opens)s to %(closes)s."),
    "report_outside_week": N_("Marked as outside the last week of the month."),
    "report_month_closed": N_("It is too late to check in for %(month)s."),
    "project_required": N_("Please choose a project to take on, or describe one."),
    "project_not_available": N_("This project is not on the community's list (any more)."),
    "project_not_found": N_("Project not found."),
    "member_not_found": N_("Member not found."),
    "not_party_member": N_("Only party members can be registered as in-service members."),
    "already_registered_member": N_("This person is already on the register."),
    "employer_required": N_("Please enter the member's employer."),
    "since_in_future": N_("The registration date cannot be in the future."),
    "bad_window_days": N_("The check-in window is a whole number of days from 1 to %(max)s."),
    "bad_month": N_("Please choose a month."),
    "bad_year": N_("Please choose a year."),
    "hours_recorded_no_points": N_("The hours are recorded, but no points were added for them."),
})

# the offline conflict policy and flagged scans (backend/scans/offline.py, backend/scans/flagged.py)
REASONS.update({
    "offline_limit_exceeded": N_("More than this station may let a card spend while offline (%(limit)s points)."),
    "event_ended": N_("This event had already ended (at %(closes)s)."),
    "refused_on_device": N_("The station refused this scan while it was offline."),
    # the offline station's own refusal (frontend/static/js/offline-judge.mjs), stored as it was shown
    "offline_unknown_card": N_("This station does not know this card while offline. Please try again when it is online."),
    "note_too_long": N_("The note is too long: at most %(max)s characters."),
    "bad_action": N_("Please choose to accept or to reverse the scan."),
    "already_resolved": N_("Someone has already resolved this scan."),
    "nothing_to_reverse": N_("This scan was refused: there is nothing to reverse."),
    "flagged_scan_not_found": N_("Flagged scan not found."),
})

# standings (backend/standings): periods, star rule, selections, yearly awards, the public screen
REASONS.update({
    "bad_period": N_("Please choose a month (2026-10), a quarter (2026-Q4) or a year (2026)."),
    "bad_thresholds": N_("Give four rising whole numbers, the lowest average monthly points for 2, 3, 4 and 5 stars (e.g. 20,40,60,80)."),
    "bad_count": N_("Please give a whole number from 1 to %(max)s."),
    "award_state": N_("Someone has already moved this candidate on (it is now: %(state)s). Please reload the page."),
    "bad_award_move": N_("Please choose nominate, award or not award."),
    "bad_category": N_("Please choose an award."),
    "screen_not_found": N_("This screen address is not valid (any more). Ask the community office for the current one."),
    "award_not_found": N_("Award candidate not found."),
})

# the monthly public notice (backend/notices)
REASONS.update({
    "month_already_closed": N_("%(month)s has already been closed for this community."),
    "month_still_open": N_("%(month)s is not over yet; a month can be closed once it has ended."),
    "month_before_last_notice": N_("%(month)s is before the last closed month (%(last)s); months are closed in order."),
    "bad_objection_days": N_("The objection period must be from 1 to %(max)s days."),
    "notice_not_draft": N_("This notice has already been published."),
    "notice_not_published": N_("Only a published notice can be made final."),
    "not_your_community": N_("You can only object to the notice of your own community."),
    "objection_closed": N_("The objection period of this notice is over."),
    "reason_too_long": N_("Please keep it under %(max)s characters."),
    "objection_already_resolved": N_("This objection has already been resolved."),
    "objection_exists": N_("You have already objected to this line; staff will answer you."),
    "bad_decision": N_("Please choose to uphold the objection or not."),
    "resolution_required": N_("Please write an answer to the resident."),
    "correction_needs_upheld": N_("Points can only be corrected when the objection is upheld."),
    "objection_period_running": N_("Residents may still object; the notice can be made final after the period ends."),
    "objections_open": N_("%(count)s objection(s) still wait for an answer."),
    "community_not_found": N_("Community not found."),
    "notice_not_found": N_("Notice not found."),
    "line_not_found": N_("This line is not on the notice."),
    "objection_not_found": N_("Objection not found."),
    "residents_only": N_("Only residents can do this."),
    "one_correction": N_("Either award missing points or reverse a transaction, not both."),
    "bad_correction": N_("Points to award must be a whole number from 1 to %(max)s."),
    "not_correctable": N_("That transaction is not one of this line's earnings in the notice, or it was already reversed."),
})
