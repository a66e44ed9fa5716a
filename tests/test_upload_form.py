"""The upload form parser (`s3pypi_core.serve.upload.read_form`) on its own: what goes in comes
out, however the body is cut into reads; whatever bytes come in, the answer is a refusal or a
form, and nothing is written outside the upload's directory."""

from __future__ import annotations

import io
import tempfile
from http import HTTPStatus
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3pypi_core.serve.upload import Form, Refused, read_form
from tests.uploading import multipart

KEPT = ["name", "version", "sha256_digest", "md5_digest", ":action"]
OTHER = ["summary", "description", "classifiers", "requires_dist", "pyversion"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=200).map(
    str.strip
)


class Trickle(io.BytesIO):
    """A body that hands out at most `size` bytes a read, as a socket might."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read(self, n: int | None = -1) -> bytes:
        return super().read(self.size if n is None or n < 0 else min(n, self.size))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kept=st.dictionaries(st.sampled_from(KEPT), TEXT, max_size=len(KEPT)),
    other=st.lists(st.tuples(st.sampled_from(OTHER), TEXT), max_size=6),
    content=st.binary(max_size=5000),
    read_size=st.integers(min_value=1, max_value=700),
)
def test_what_goes_in_comes_out(
    kept: dict[str, str], other: list[tuple[str, str]], content: bytes, read_size: int
) -> None:
    content_type, body = multipart(
        [*kept.items(), *other], [("content", "hello-1.0-py3-none-any.whl", content)]
    )
    with tempfile.TemporaryDirectory() as directory:
        form = read_form(content_type, Trickle(body, read_size), Path(directory))
        assert form.fields == kept  # the others are not kept
        assert form.file == Path(directory) / "hello-1.0-py3-none-any.whl"
        assert form.file.read_bytes() == content


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.builds(  # a valid form, cut or damaged somewhere
            lambda fields, content, cut, flip: _damaged(fields, content, cut, flip),
            st.lists(st.tuples(st.sampled_from(KEPT + OTHER), TEXT), max_size=4),
            st.binary(max_size=500),
            st.integers(min_value=0, max_value=4000),
            st.integers(min_value=0, max_value=4000),
        ),
    ),
)
def test_any_body_is_a_form_or_a_refusal(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as parent:
        directory = Path(parent) / "upload"
        directory.mkdir()
        outcome: Form | Refused
        try:
            outcome = read_form(
                "multipart/form-data; boundary=BOUNDARY", io.BytesIO(data), directory
            )
        except Refused as e:
            outcome = e
        if isinstance(outcome, Refused):
            assert outcome.status == HTTPStatus.BAD_REQUEST
            assert "\n" not in outcome.reason
        else:
            assert outcome.file is None or outcome.file.parent == directory
        assert [p.name for p in Path(parent).iterdir()] == ["upload"]


def _damaged(fields: list[tuple[str, str]], content: bytes, cut: int, flip: int) -> bytes:
    _content_type, body = multipart(fields, [("content", "x.whl", content)], boundary="BOUNDARY")
    body = body[: max(cut, len(body) // 2)] if cut < len(body) else body
    if body and flip < len(body):
        body = body[:flip] + bytes([body[flip] ^ 0x20]) + body[flip + 1 :]
    return body


def test_a_filename_that_would_leave_the_directory_is_refused(tmp_path: Path) -> None:
    for filename in ["../x.whl", "a/b.whl", ".x.whl", "..", "a\\b.whl", "x\x01.whl"]:
        content_type, body = multipart([], [("content", filename, b"data")])
        directory = tmp_path / "upload"
        directory.mkdir()
        with pytest.raises(Refused, match=r"^not a plain file name"):
            read_form(content_type, io.BytesIO(body), directory)
        assert list(directory.iterdir()) == []
        directory.rmdir()
    assert list(tmp_path.iterdir()) == []
