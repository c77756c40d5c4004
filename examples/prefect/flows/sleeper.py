"""Waits for an upstream export to land before the morning reports read it."""
import time

from prefect import flow


@flow
def wait_for_upstream(minutes: int = 30):
    time.sleep(minutes * 60)
