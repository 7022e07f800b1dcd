#!/usr/bin/env python
"""Django's command-line utility, for one service at a time.

Pick the service with DJANGO_SETTINGS_MODULE=config.settings.<service>
(orders, inventory, payments or reconciliation).
"""

import os
import sys


def main() -> None:
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        sys.exit(
            "Set DJANGO_SETTINGS_MODULE to the service to run, e.g.\n"
            "  DJANGO_SETTINGS_MODULE=config.settings.orders python manage.py <command>\n"
            "(services: orders, inventory, payments, reconciliation)."
        )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
