"""Consumer group lag as the overview page reads it: an admin client that stopped answering is
replaced, not waited on forever, and the page shows the lag as unknown meanwhile."""

from concurrent.futures import Future

from events import kafka, lag


class SilentAdmin:
    """An admin client whose requests never come back (seen after a broker restart)."""

    def list_consumer_group_offsets(self, requests):
        waiting = Future()
        return {request.group_id: waiting for request in requests}


def test_a_lag_request_that_times_out_is_unknown_and_the_admin_client_is_replaced(monkeypatch):
    monkeypatch.setattr(lag, "TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(kafka, "admin_client", SilentAdmin)
    replaced = []
    monkeypatch.setattr(kafka, "admin_client_reset", lambda: replaced.append(True))

    assert lag.consumer_group_lag("orders") is None
    assert replaced == [True]
