"""Service stations and merchant tills, and the devices paired to them."""
