"""Pulls yesterday's orders from the partner API, page by page."""
from prefect import flow, task


@task(retries=3)
def fetch_page(page: int) -> list[dict]:
    ...


@flow(log_prints=True)
def fetch_api(pages: int = 20):
    return [fetch_page(page) for page in range(pages)]
