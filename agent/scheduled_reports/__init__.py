"""Scheduled reports (#16): made on a cron schedule, archived with a checksum, e-mailed."""
