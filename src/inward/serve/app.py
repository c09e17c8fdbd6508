"""The FastAPI app of ``inward serve``: OpenAI's routes over a :class:`ServerState`.

* ``GET  /v1/models``
* ``POST /v1/chat/completions`` (:func:`inward.serve.completions.complete`)
* ``POST /v1/files`` (multipart, purpose fine-tune), ``GET /v1/files/{id}``
* ``POST /v1/fine_tuning/jobs`` -- a local LoRA finetune of the uploaded file in a background
  thread; the result ``ft:<base>:<job id>`` is served as base + adapter. A job on an ``ft:``
  model continues from that model's adapter. Extra local hparams (e.g. max_steps) may be sent
  as ``inward_hparams`` in the body.
* ``GET  /v1/fine_tuning/jobs/{id}``
* ``POST /v1/load_lora_adapter`` ``{"lora_name", "lora_path"}``, ``POST /v1/unload_lora_adapter``
  ``{"lora_name"}`` -- vLLM's runtime LoRA loading: a peft adapter folder on this machine is
  served under ``lora_name`` on the base whose source it names (plain-text answers, as vLLM's)

Every request, refused ones too, is appended to the request log.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from inward.serve.completions import complete
from inward.serve.state import ServerState
from inward.serve.uploads import parse_multipart

log = logging.getLogger(__name__)


def _err(status: int, message: str, etype: str = "invalid_request_error",
         code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, headers=headers, content={"error": {
        "message": message, "type": etype, "param": None, "code": code}})


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(title="inward loopback OpenAI-compatible server")
    app.state.inward = state
    record = state.log.write

    def auth_failed(request: Request) -> bool:
        return not state.authorized(request.headers.get("authorization", ""))

    @app.get("/v1/models")
    async def list_models(request: Request):
        if auth_failed(request):
            record("GET", "/v1/models", None, None, 401)
            return _err(401, "Incorrect API key provided.", "invalid_request_error",
                        "invalid_api_key")
        record("GET", "/v1/models", None, None, 200)
        now = int(time.time())
        return {"object": "list", "data": [
            {"id": m, "object": "model", "created": now, "owned_by": "inward"}
            for m in state.models.ids()]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        path = "/v1/chat/completions"
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001
            record("POST", path, None, None, 400)
            return _err(400, "request body is not JSON")
        model, messages = body.get("model"), body.get("messages")
        if auth_failed(request):
            record("POST", path, model, messages, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        if state.take_injected_failure():
            record("POST", path, model, messages, state.fail_status)
            return _err(state.fail_status, f"injected failure ({state.fail_status})",
                        "rate_limit_error" if state.fail_status == 429 else "server_error",
                        headers=state.retry_after_headers())
        if state.models.resolve(model or "") is None:
            record("POST", path, model, messages, 404)
            return _err(404, f"The model {model!r} does not exist; served: "
                             f"{state.models.ids()}", code="model_not_found")
        if not isinstance(messages, list) or not messages:
            record("POST", path, model, messages, 400)
            return _err(400, "'messages' must be a non-empty list")
        try:
            result = await run_in_threadpool(complete, state.models, state.compute, body,
                                             state.take_varied_answers(body))
        except Exception as e:
            log.exception("chat completion failed")
            record("POST", path, model, messages, 500)
            return _err(500, f"{type(e).__name__}: {e}", "server_error")
        record("POST", path, model, messages, 200)
        return result

    @app.post("/v1/files")
    async def upload(request: Request):
        path = "/v1/files"
        if auth_failed(request):
            record("POST", path, None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        parts = parse_multipart(await request.body(), request.headers.get("content-type", ""))
        if "file" not in parts:
            record("POST", path, None, None, 400)
            return _err(400, "multipart field 'file' is required")
        purpose = parts.get("purpose", (None, b"fine-tune"))[1].decode()
        filename, data = parts["file"]
        meta = state.files.add(data, filename, purpose)
        record("POST", path, None, None, 200)
        return meta

    @app.get("/v1/files/{file_id}")
    async def get_file(file_id: str, request: Request):
        if auth_failed(request):
            record("GET", "/v1/files", None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        meta = state.files.meta(file_id)
        record("GET", "/v1/files", None, None, 200 if meta is not None else 404)
        if meta is None:
            return _err(404, f"No such File object: {file_id}")
        return meta

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request):
        path = "/v1/fine_tuning/jobs"
        body = await request.json()
        model = body.get("model")
        if auth_failed(request):
            record("POST", path, model, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        resolved = state.models.resolve(model or "")
        if resolved is None:
            record("POST", path, model, None, 404)
            return _err(404, f"The model {model!r} does not exist; served: "
                             f"{state.models.ids()}", code="model_not_found")
        fid = str(body.get("training_file") or "")
        if not state.files.has(fid):
            record("POST", path, model, None, 400)
            return _err(400, f"training_file {fid!r} not found (upload it to /v1/files)")
        root, init_adapter = resolved
        job = state.jobs.create(body, root, init_adapter, fid)
        record("POST", path, model, None, 200)
        return job

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    async def get_job(job_id: str, request: Request):
        path = "/v1/fine_tuning/jobs/{id}"
        if auth_failed(request):
            record("GET", path, None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        job = state.jobs.get(job_id)
        record("GET", path, job["model"] if job else None, None, 200 if job else 404)
        if job is None:
            return _err(404, f"No such fine-tuning job: {job_id}")
        return job

    @app.post("/v1/load_lora_adapter")
    async def load_lora_adapter(request: Request):
        path = "/v1/load_lora_adapter"
        body = await request.json()
        name, where = body.get("lora_name"), body.get("lora_path")
        if auth_failed(request):
            record("POST", path, name, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        if not name or not where:
            record("POST", path, name, None, 400)
            return _err(400, "Both 'lora_name' and 'lora_path' must be provided.")
        try:
            state.models.load_adapter(str(name), str(where))
        except FileNotFoundError as e:
            record("POST", path, name, None, 404)
            return _err(404, str(e), "NotFoundError")
        except ValueError as e:
            record("POST", path, name, None, 400)
            return _err(400, str(e))
        record("POST", path, name, None, 200)
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload_lora_adapter(request: Request):
        path = "/v1/unload_lora_adapter"
        name = (await request.json()).get("lora_name")
        if auth_failed(request):
            record("POST", path, name, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        if not state.models.unload_adapter(str(name or "")):
            record("POST", path, name, None, 404)
            return _err(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        record("POST", path, name, None, 200)
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    return app
