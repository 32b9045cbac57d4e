"""The console page of the recommendation model: who may see it, what it shows, the train
button (POST with CSRF, one queued run at a time) and the progress of a running run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnicrm.core.models import AuditLog
from omnicrm.recommendations.models import RecommenderModel, TrainingStatus
from omnicrm.recommendations.tasks import recommender_train_task
from omnicrm.recommendations.training import recommender_queue, recommender_train
from tests.console.html import text_by_id
from tests.recommendations.coffee_shop import NOW, coffee_shop

PAGE = "/recommendations/model/"
TRAIN = "/recommendations/model/train/"
STATUS = "/recommendations/model/status/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def client_as(make_staff):
    """A logged-in test client for a staff role."""

    def login(role: str) -> Client:
        client = Client()
        client.force_login(make_staff(role))
        return client

    return login


@pytest.fixture
def trained():
    shop = coffee_shop()
    return shop, recommender_train(now=NOW)


@pytest.mark.parametrize("role", ["analyst", "marketer", "admin"])
def test_the_page_opens_for_analysts_marketers_and_admins(trained, client_as, role):
    assert client_as(role).get(PAGE).status_code == 200


def test_the_page_is_forbidden_to_support_agents_and_asks_strangers_to_log_in(trained, client_as):
    assert client_as("support_agent").get(PAGE).status_code == 403
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_page_shows_the_current_model_and_its_data(trained, client_as):
    _shop, run = trained

    html = client_as("analyst").get(PAGE).content.decode()

    current = text_by_id(html, "current-model")
    assert run.public_id in current
    assert text_by_id(html, "current-algorithm") == "EASE (linear item-item autoencoder)"
    assert text_by_id(html, "data-customers") == "6"
    assert "18 order lines, 5 ratings, 3 wishlist entries" in current
    assert "2026-05-06 \u2013 2026-06-14" in current
    assert text_by_id(html, "param-l2").startswith("200.0 too few purchases to choose l2")
    assert text_by_id(html, "evaluation-skipped").startswith(
        "Not measured: too little history: 18 order lines"
    )
    runs = text_by_id(html, "runs-table")
    assert run.public_id in runs and "serving" in runs and "Succeeded" in runs
    # Analysts see the figures but may not train.
    assert TRAIN not in html


def test_evaluation_figures_and_failed_runs_are_shown(trained, client_as):
    _shop, run = trained
    run.evaluation = {
        "split": "time",
        "cut": "2026-05-01T00:00:00+00:00",
        "k": 10,
        "test_customers": 120,
        "model": {"precision@10": 0.05, "ndcg@10": 0.1234, "hit_rate@10": 0.4},
        "popularity": {"precision@10": 0.02, "ndcg@10": 0.0456, "hit_rate@10": 0.2},
    }
    run.save()
    RecommenderModel.objects.create(
        algorithm="ease",
        status=TrainingStatus.FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error="MemoryError: out of memory",
    )

    html = client_as("marketer").get(PAGE).content.decode()

    assert '<td>NDCG@10</td><td class="num">0.1234</td><td class="num">0.0456</td>' in html
    assert '<td>Precision@10</td><td class="num">0.0500</td><td class="num">0.0200</td>' in html
    # Measures the run did not record are left out.
    assert "MAP@10" not in text_by_id(html, "evaluation-table")
    assert "the 120 customers who bought something new afterwards" in text_by_id(html, "evaluation")
    runs = text_by_id(html, "runs-table")
    assert "Failed MemoryError: out of memory" in runs
    assert "0.1234" in runs


def test_the_page_before_any_training(db, client_as):
    html = client_as("analyst").get(PAGE).content.decode()

    assert "No model has been trained yet" in text_by_id(html, "train-status")
    assert "No training has run yet." in text_by_id(html, "runs")


def test_the_train_button_queues_one_run(trained, client_as, django_capture_on_commit_callbacks):
    client = client_as("admin")
    assert TRAIN in client.get(PAGE).content.decode()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(TRAIN)
        again = client.post(TRAIN)

    assert response.status_code == 302 and again.status_code == 302
    queued = RecommenderModel.objects.get(status=TrainingStatus.QUEUED)
    assert (queued.trigger, queued.algorithm) == ("console", "ease")
    assert len(callbacks) == 1
    assert AuditLog.objects.filter(action="recommendations.train_queued").count() == 1
    html = client.get(PAGE).content.decode()
    assert "Training queued" in text_by_id(html, "train-status")
    assert 'hx-trigger="every 3s"' in html
    # No second button while a run is queued.
    assert TRAIN not in html


def test_the_train_button_answers_htmx_with_the_status(trained, client_as):
    response = client_as("admin").post(TRAIN, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "Training queued" in response.content.decode()


def test_training_needs_the_train_permission_post_and_csrf(trained, client_as, make_staff):
    assert client_as("analyst").post(TRAIN).status_code == 403
    assert client_as("marketer").post(TRAIN).status_code == 403
    assert client_as("admin").get(TRAIN).status_code == 405
    user = make_staff("admin", username="csrf-admin")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(TRAIN).status_code == 403
    assert not RecommenderModel.objects.filter(status=TrainingStatus.QUEUED).exists()


def test_the_task_trains_the_queued_run_once(trained):
    _shop, first = trained
    run = recommender_queue(trigger="console")

    result = recommender_train_task.call(run_id=run.pk)
    again = recommender_train_task.call(run_id=run.pk)

    run.refresh_from_db()
    assert result["status"] == "succeeded"
    assert run.status == TrainingStatus.SUCCEEDED and run.progress == 100
    assert again == {"run_id": run.pk, "status": "succeeded", "skipped": True}
    assert RecommenderModel.objects.count() == 2
    assert run.finished_at > first.finished_at


def test_the_nightly_task_trains_a_new_run(trained):
    result = recommender_train_task.call()

    latest = RecommenderModel.objects.get(pk=result["run_id"])
    assert (latest.status, latest.trigger) == (TrainingStatus.SUCCEEDED, "schedule")


def test_the_nightly_job_is_registered():
    from omnicrm.core.scheduler import periodic_jobs

    job = periodic_jobs()["recommendations.train"]
    assert job.every == timedelta(days=1)
    assert job.task is recommender_train_task


def test_running_progress_is_shown_and_polled(db, client_as):
    RecommenderModel.objects.create(
        algorithm="ease",
        status=TrainingStatus.RUNNING,
        progress=40,
        message="Computing the personal model",
        started_at=timezone.now(),
    )

    response = client_as("marketer").get(STATUS)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Training: 40%" in html
    assert "Computing the personal model" in html
    assert 'hx-trigger="every 3s"' in html


def test_a_run_left_running_by_a_dead_worker_stops_blocking(db, client_as):
    stale = RecommenderModel.objects.create(
        algorithm="ease", status=TrainingStatus.RUNNING, started_at=timezone.now()
    )
    RecommenderModel.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(hours=4)
    )

    assert "Train now" in client_as("admin").get(STATUS).content.decode()
    run = recommender_queue(trigger="console")
    assert run.pk != stale.pk


def test_the_page_takes_a_fixed_number_of_queries(trained, client_as):
    client = client_as("analyst")
    client.get(PAGE)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    one_run = queries()
    for _ in range(3):
        recommender_train(now=NOW)
    RecommenderModel.objects.create(
        algorithm="ease", status=TrainingStatus.FAILED, started_at=timezone.now()
    )

    assert queries() == one_run == 8
