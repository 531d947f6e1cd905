"""Every route handler of the app, gathered from the domains' web modules."""


def route_handlers() -> list:
    from backend.accounts import web as accounts
    from backend.web import pages

    return [*pages.ROUTES, *accounts.ROUTES]
