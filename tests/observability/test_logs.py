"""JSON logs (`NEXTOFFER_LOG_FORMAT=json`): one line per request, errors with their problem code,
the request id on every line logged while a request is served."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from nextoffer.config import ConfigError, Settings
from nextoffer.observability.logs import JsonFormatter, uvicorn_log_config
from tests.decisioning.conftest import post, request_body, scope


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("nextoffer")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_one_json_line_per_request_with_id_tenant_route_status_duration(
    make_api, captured: io.StringIO
) -> None:
    api = make_api(log_format="json")
    r = api.get("/offers?offer-type=personalized", headers={"x-request-id": "req-7"})
    assert r.status_code == 200
    [line] = [x for x in _records(captured) if x["logger"] == "nextoffer.access"]
    assert line["requestId"] == "req-7" == r.headers["x-request-id"]
    assert line["org"] == api.org and line["sandbox"] == api.sandbox
    assert line["route"] == "/data/core/dps/{collection}" and line["method"] == "GET"
    assert line["status"] == 200 and line["level"] == "info"
    assert isinstance(line["durationMs"], float) and line["durationMs"] >= 0
    assert line["message"] == "GET /data/core/dps/{collection} 200"
    assert line["time"].endswith("+00:00") and "problem" not in line


def test_a_generated_request_id_is_the_one_answered(make_api, captured: io.StringIO) -> None:
    api = make_api(log_format="json")
    r = api.get("/offers?offer-type=personalized")
    [line] = [x for x in _records(captured) if x["logger"] == "nextoffer.access"]
    assert line["requestId"] == r.headers["x-request-id"] and len(line["requestId"]) == 36


def test_errors_carry_their_problem_code(make_api, captured: io.StringIO) -> None:
    api = make_api(log_format="json")
    r = api.client.post("/data/core/ods/decisions", content=b"{", headers=api.headers)
    assert r.status_code == 400
    [line] = [x for x in _records(captured) if x["logger"] == "nextoffer.access"]
    assert line["problem"] == r.json()["code"] and line["status"] == 400
    unknown = post(api, request_body(scope("nope", "nowhere")))
    assert unknown.status_code == 422
    last = [x for x in _records(captured) if x["logger"] == "nextoffer.access"][-1]
    assert last["problem"] == unknown.json()["code"]


def test_a_server_error_is_logged_with_its_request_id_and_traceback(
    make_api, captured: io.StringIO
) -> None:
    """A route of the real app that raises: the 500's access line and the error's own line."""
    api = make_api(log_format="json")

    async def boom(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("the disk caught fire")

    api.client.app.add_route("/v1/boom", boom)  # type: ignore[attr-defined]
    r = api.client.get("/v1/boom", headers={"x-request-id": "req-500"})
    assert r.status_code == 500
    records = _records(captured)
    [access] = [x for x in records if x["logger"] == "nextoffer.access"]
    assert access["level"] == "error" and access["problem"] == "internal-error"
    assert access["route"] == "/v1/boom"
    [failure] = [x for x in records if x["logger"] == "nextoffer.api"]
    assert failure["requestId"] == "req-500"
    assert "the disk caught fire" in failure["exception"]


def test_text_logs_write_no_request_lines(make_api, captured: io.StringIO) -> None:
    api = make_api()  # uvicorn's access log says it in text mode
    assert api.get("/offers?offer-type=personalized").status_code == 200
    assert not [x for x in _records(captured) if x["logger"] == "nextoffer.access"]


def test_the_log_format_is_checked() -> None:
    assert Settings.from_env({"NEXTOFFER_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="NEXTOFFER_LOG_FORMAT must be one of text, json"):
        Settings.from_env({"NEXTOFFER_LOG_FORMAT": "xml"})


def test_uvicorn_logs_the_same_json_in_every_worker() -> None:
    assert uvicorn_log_config("text") is None
    config = uvicorn_log_config("json", "warning")
    assert config is not None
    logging.config.dictConfig({**config, "loggers": {}})  # it is a valid dictConfig
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    assert set(config["loggers"]) >= {"uvicorn.error", "nextoffer"}


def test_request_ids_are_echoed_with_every_telemetry_off(make_api) -> None:
    api = make_api(metrics=False)  # and no tracing, text logs: the id is all that is done
    r = api.get("/offers?offer-type=personalized", headers={"x-request-id": "mine"})
    assert r.headers["x-request-id"] == "mine"
    fresh = api.get("/offers?offer-type=personalized")
    assert len(fresh.headers["x-request-id"]) == 36
    assert (
        api.get("/offers", headers={"x-request-id": "x" * 500}).headers["x-request-id"] == "x" * 128
    )
