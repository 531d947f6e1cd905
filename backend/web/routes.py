"""Every route handler of the app, gathered from the domains' web modules."""


def route_handlers() -> list:
    from backend.accounts import web as accounts
    from backend.audit import web as audit
    from backend.catalog import web as catalog
    from backend.claims import web as claims
    from backend.events import web as events
    from backend.imports import web as imports
    from backend.inservice import web as inservice
    from backend.scans import web as scans
    from backend.notices import web as notices
    from backend.people import web as people
    from backend.redemption import web as redemption
    from backend.servicecards import web as servicecards
    from backend.stations import web as stations
    from backend.standings import web as standings
    from backend.web import pages
    from backend.wishes import web as wishes

    return [*pages.ROUTES, *accounts.ROUTES, *people.ROUTES, *audit.ROUTES, *imports.ROUTES, *scans.ROUTES,
            *servicecards.ROUTES, *stations.ROUTES, *redemption.ROUTES, *events.ROUTES,
            *catalog.ROUTES, *claims.ROUTES, *notices.ROUTES, *standings.ROUTES, *inservice.ROUTES, *wishes.ROUTES]
