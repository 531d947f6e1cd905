"""The audit log of staff actions: who, what, when, before and after."""
