"""One URLconf per service; common.py holds the endpoints every service has."""
