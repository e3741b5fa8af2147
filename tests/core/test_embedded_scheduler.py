import pytest

from apps.core import embedded_scheduler


@pytest.fixture
def jobs(monkeypatch):
    monkeypatch.setattr(embedded_scheduler, "JOBS", [])
    # These jobs touch no database; another test's connection must be left alone.
    monkeypatch.setattr(embedded_scheduler, "close_old_connections", lambda: None)
    embedded_scheduler._wake.clear()
    calls: list[str] = []

    def make(name: str, fail: bool = False):
        def job():
            calls.append(name)
            if fail:
                raise RuntimeError(name)

        job.__name__ = name
        return job

    return calls, make


def test_due_jobs_run_and_a_failing_one_stops_nothing(jobs):
    calls, make = jobs
    embedded_scheduler.register(make("broken", fail=True), every=60)
    embedded_scheduler.register(make("expire"), every=60)
    embedded_scheduler.tick()
    assert calls == ["broken", "expire"]
    embedded_scheduler.tick()  # nothing due yet
    assert calls == ["broken", "expire"]


def test_wake_runs_only_the_on_wake_jobs_at_once(jobs):
    calls, make = jobs
    embedded_scheduler.register(make("dispatch"), every=60, on_wake=True)
    embedded_scheduler.register(make("scan"), every=60)
    embedded_scheduler.tick()
    calls.clear()
    embedded_scheduler.wake()
    embedded_scheduler.tick()
    assert calls == ["dispatch"]
    embedded_scheduler.tick()
    assert calls == ["dispatch"]


def test_registering_twice_keeps_one_job(jobs):
    _, make = jobs
    job = make("expire")
    embedded_scheduler.register(job)
    embedded_scheduler.register(job, every=5)
    assert len(embedded_scheduler.JOBS) == 1


def test_the_apps_register_their_jobs_for_the_embedded_mode():
    names = {job.name for job in embedded_scheduler.JOBS}
    assert {
        "reservation_expire_due", "outbox_publish_pending", "low_stock_scan",
        "webhook_retry_due", "ledger_verify",
    } <= names  # fmt: skip
    dispatch = next(j for j in embedded_scheduler.JOBS if j.name == "outbox_publish_pending")
    assert dispatch.on_wake
