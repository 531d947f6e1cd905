"""Micro-wishes and work orders (微心愿): posted by residents, dispatched by staff or taken by volunteers."""
