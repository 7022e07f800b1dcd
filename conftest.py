"""Fixtures shared by every test run, registered once here."""
