"""The desk's background jobs: one at a time, output kept, the end recorded by the job itself."""

from __future__ import annotations

import os
import sys
import time

import pytest

from bot.content.jobs import Job, JobError, Jobs


def wait_done(jobs: Jobs, timeout: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.current()
        if job is not None and job.finished is not None:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job did not end: {jobs.current()}")


@pytest.fixture
def jobs(tmp_path) -> Jobs:
    return Jobs(tmp_path, {"VAR_DIR": str(tmp_path / "var")})


def test_steps_run_in_order_and_the_job_records_its_end(jobs, tmp_path):
    steps = [[sys.executable, "-c", "print('first step')"], [sys.executable, "-c", "print('second step')"]]
    started = jobs.start("check", "The regression report", steps, dict(os.environ))
    assert started.kind == "check" and jobs.current().pid == started.pid
    done = wait_done(jobs)
    assert (done.exit_code, done.state) == (0, "done")
    output = jobs.output()
    assert output.index("first step") < output.index("second step")
    assert (tmp_path / "var" / "content" / "job.log").is_file()


def test_the_first_failing_step_ends_the_job(jobs):
    steps = [[sys.executable, "-c", "import sys; sys.exit(3)"], [sys.executable, "-c", "print('never')"]]
    jobs.start("swap", "Training", steps, dict(os.environ))
    done = wait_done(jobs)
    assert (done.exit_code, done.state) == (3, "ended with exit code 3")
    assert "never" not in jobs.output().replace("print('never')", "")


def test_a_second_job_waits_for_the_first(jobs):
    first = jobs.start(
        "check", "The regression report", [[sys.executable, "-c", "import time; time.sleep(3)"]], {}
    )
    with pytest.raises(JobError, match="The regression report is still running"):
        jobs.start("swap", "Training", [[sys.executable, "-c", "pass"]], {})
    assert jobs.current().pid == first.pid
    assert wait_done(jobs).exit_code == 0
    jobs.start("swap", "Training", [[sys.executable, "-c", "pass"]], {})  # now it may
    assert wait_done(jobs).kind == "swap"


def test_a_job_whose_process_is_gone_reads_as_interrupted(jobs):
    job = jobs.start(
        "check", "The regression report", [[sys.executable, "-c", "import time; time.sleep(60)"]], {}
    )
    os.killpg(job.pid, 9)
    deadline = time.monotonic() + 10
    while jobs.current().state != "interrupted" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.current().state == "interrupted" and not jobs.current().running
