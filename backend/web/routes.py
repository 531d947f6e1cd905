"""Every route handler of the app, gathered from the domains' web modules."""


def route_handlers() -> list:
    from backend.accounts import web as accounts
    from backend.audit import web as audit
    from backend.imports import web as imports
    from backend.people import web as people
    from backend.web import pages

    return [*pages.ROUTES, *accounts.ROUTES, *people.ROUTES, *audit.ROUTES, *imports.ROUTES]
