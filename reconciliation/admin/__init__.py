"""The support console: divergences and their resolution, every order's saga, the rule policies,
the sweeps, and an overview page with charts (admin/overview.py)."""

from reconciliation.admin import divergences, policies, sagas  # noqa: F401 - registers the admins
