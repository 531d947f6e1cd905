"""People (residents), their sign-in users and the staff roles granted on community nodes."""
