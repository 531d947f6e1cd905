"""Points accounts: people (red/blue/green), organisations, merchants, the issuer and the points shop."""
