"""Job rows record their failure even when the database connection was what failed."""

import pytest
from django.db import OperationalError

from musicsite import jobs


def test_a_lost_connection_is_replaced_and_the_write_tried_again(transactional_db, monkeypatch):
    monkeypatch.setattr(jobs.time, "sleep", lambda seconds: None)
    attempts = []

    def save():
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("terminating connection due to administrator command")
        return "saved"

    assert jobs.on_a_live_connection(save) == "saved" and len(attempts) == 3


def test_it_gives_up_after_its_attempts_and_raises_the_error(transactional_db, monkeypatch):
    monkeypatch.setattr(jobs.time, "sleep", lambda seconds: None)

    def save():
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError, match="connection refused"):
        jobs.on_a_live_connection(save)


def test_other_errors_are_not_retried(db):
    attempts = []

    def save():
        attempts.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        jobs.on_a_live_connection(save)
    assert len(attempts) == 1


def test_inside_a_transaction_it_does_not_retry(db):
    # A new connection would not see (or finish) the transaction the write belongs to.
    attempts = []

    def save():
        attempts.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        jobs.on_a_live_connection(save)
    assert len(attempts) == 1
