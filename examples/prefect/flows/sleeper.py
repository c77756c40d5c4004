"""Waits for an upstream export to land before the nightly rollup starts."""
import time

from prefect import flow


@flow
def wait_for_upstream(seconds: int = 600):
    time.sleep(seconds)
