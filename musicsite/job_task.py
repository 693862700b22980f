"""The base of every Celery task that runs a job row (an import, a training, a pipeline...).

In the spirit of pretix's task base (pretix/base/services/tasks.py): the task is sent the
row's id, and its body is given the row, loaded and marked running; `musicsite.jobs.job_run`
does the lifecycle (skip a finished row, time the run, record a failure with its traceback,
on a new connection when the database went away). What is retryable, a lost database
connection, is retried by Celery's own `autoretry_for` with a growing countdown; a retry
reopens the failed row first. Eager (in-process) runs fail at once: there is no queue to
wait in.

    @shared_task(base=JobTask, job_model=ModelRun)
    def model_run_train(run: ModelRun) -> None:  # sent as model_run_train.delay(run.pk)
        training.model_run_fit(run=run)

The task returns the row's status as it ended.
"""

from celery.contrib.django.task import DjangoTask

from .jobs import DATABASE_LOST, Job, job_run, on_a_live_connection


class JobTask(DjangoTask):
    job_model: type[Job]  # set per task, in the decorator
    finishes_job = True  # False for a step of a job spanning several tasks (a pipeline's)
    autoretry_for = DATABASE_LOST  # a restart, a failover: the work is done again
    max_retries = 3
    retry_backoff = 10  # seconds before the first retry, doubled for each next one
    retry_jitter = False

    def __call__(self, job_id: int, *args, **kwargs) -> str:
        # The worker has pushed this run's request (retries, is_eager) already: Task's own
        # __call__ would push a fresh one without them, so it is not called.
        if self.request.retries:
            on_a_live_connection(lambda: self.job_model.objects.get(pk=job_id).reopen())
        job = job_run(
            self.job_model,
            job_id,
            lambda job: self.run(job, *args, **kwargs),
            finishes=self.finishes_job,
        )
        return job.status

    def retry(self, *args, exc=None, **kwargs):
        if exc is not None and self.request.is_eager:
            raise exc  # in-process there is no queue to wait in: fail now
        return super().retry(*args, exc=exc, **kwargs)
