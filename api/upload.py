"""Stream a multipart upload straight to disk: hash and size-check while reading, never buffer the body."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from core.errors import ClausewiseError, ErrorCode
from ingest.intake import UploadSink

MAX_FIELD_BYTES = 16 * 1024
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class ReceivedUpload:
    sink: UploadSink | None = None
    filename: str | None = None
    content_type: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


async def receive_upload(request: Request, make_sink, max_bytes: int, max_fields: int = 20) -> ReceivedUpload:
    """Parse multipart/form-data from the request stream; the part named `file` goes to a sink.

    Whatever the transfer encoding, the whole body is capped at the upload limit plus multipart overhead and
    the non-file fields at `max_fields` of MAX_FIELD_BYTES each (20,000 fields of 16 KB, chunked with no
    Content-Length, were once read to the end)."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise ClausewiseError(ErrorCode.validation_error,
                              "send the file as multipart/form-data in a field named 'file'")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + MULTIPART_OVERHEAD:
        raise ClausewiseError(ErrorCode.file_too_large, f"file exceeds the upload limit of {max_bytes} bytes",
                              limit_bytes=max_bytes)
    out = ReceivedUpload()
    state: dict = {"headers": {}, "field": b"", "name": None, "is_file": False, "hname": b"", "hvalue": b""}

    parts = {"n": 0}

    def on_part_begin():
        parts["n"] += 1
        if parts["n"] > max_fields + 1:
            raise ClausewiseError(ErrorCode.validation_error, f"too many form fields (at most {max_fields} besides "
                                  "'file')")
        state.update(headers={}, field=b"", name=None, is_file=False, hname=b"", hvalue=b"")

    def on_header_field(data, start, end):
        state["hname"] += data[start:end]

    def on_header_value(data, start, end):
        state["hvalue"] += data[start:end]

    def on_header_end():
        state["headers"][state["hname"].lower()] = state["hvalue"]
        state["hname"], state["hvalue"] = b"", b""

    def on_headers_finished():
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == "file" and out.sink is None:
            state["is_file"] = True
            # browsers and httpx percent-encode quotes, CR, LF and NUL in multipart file names (WHATWG)
            out.filename = unquote(disp.get(b"filename", b"").decode("utf-8", "replace"))
            out.content_type = state["headers"].get(b"content-type", b"").decode("latin-1") or None
            out.sink = make_sink()

    def on_part_data(data, start, end):
        if state["is_file"]:
            out.sink.write(data[start:end])
        else:
            state["field"] += data[start:end]
            if len(state["field"]) > MAX_FIELD_BYTES:
                raise ClausewiseError(ErrorCode.validation_error, f"form field {state['name']!r} is too long")

    def on_part_end():
        if not state["is_file"] and state["name"]:
            out.fields[state["name"]] = state["field"].decode("utf-8", "replace")

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    received, cap = 0, max_bytes + MULTIPART_OVERHEAD + max_fields * MAX_FIELD_BYTES
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > cap:
                raise ClausewiseError(ErrorCode.file_too_large, f"the request exceeds the upload limit of "
                                      f"{max_bytes} bytes", limit_bytes=max_bytes)
            parser.write(chunk)
        parser.finalize()
    except ClausewiseError:
        if out.sink:
            out.sink.discard()
        raise
    except Exception as e:
        if out.sink:
            out.sink.discard()
        raise ClausewiseError(ErrorCode.validation_error, f"malformed multipart body: {e}") from e
    if out.sink is None:
        raise ClausewiseError(ErrorCode.validation_error, "no file: send the file in a multipart field named 'file'")
    return out
