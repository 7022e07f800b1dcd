"""One settings module per service: config.settings.<service>; base.py holds what they share."""
