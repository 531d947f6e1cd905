"""Points claims (积分申报 "掌上办") and their weekly review (一周一审核)."""
