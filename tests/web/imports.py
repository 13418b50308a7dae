"""What the import tests do as a trainer would: upload a file, read the review form, press
Import; and workbooks written by openpyxl as bytes."""

from __future__ import annotations

import io
import re

import openpyxl
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.conftest import csrf_token


def upload(client: FlaskClient, data: bytes, filename: str, slug: str = "nairobi") -> TestResponse:
    """Post ``data`` as ``filename`` on the workshop's import page."""
    url = f"/workshops/{slug}/participants/import"
    return client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def guessed_form(page: str) -> dict[str, str]:
    """The review form as a browser would post it untouched: CSRF token and guessed mapping."""
    form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]}
    for name, options in re.findall(r'<select id="(map_\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="(\d+)" selected>', options)
        form[name] = chosen[1] if chosen else ""
    return form


def press_import(client: FlaskClient, review_url: str, form: dict[str, str], **extra: str):
    """Press "Import now" on the review page (duplicates skipped unless ``extra`` says)."""
    return client.post(
        review_url,
        data={**form, "action": "import", "on_duplicate": "skip", **extra},
        follow_redirects=True,
    )


def workbook_bytes(workbook: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
