"""The community tree: street → community → compound → grid → building → unit."""
