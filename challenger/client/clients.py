"""The registry's REST API in Python: `Client` (blocking) and `AsyncClient` (asyncio) send the same
calls (calls.py) and raise the same errors (errors.py). Each method is a call's builder, typed
by it: `client.create_task("faq", metric="contains")` returns a `TaskPublic`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from challenger.client import calls
from challenger.client.calls import Call
from challenger.client.credentials import default_token
from challenger.client.errors import Unreachable, api_error
from shared.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


def _config(base_url: str | None, token: str | None, timeout: float) -> dict[str, Any]:
    """Defaults: CHALLENGER_REGISTRY_URL, and CHALLENGER_TOKEN or $CHALLENGER_HOME/admin-token."""
    settings = Settings()
    token = default_token(settings) if token is None else token
    url = (base_url or settings.registry_url).rstrip("/")
    return {"base_url": f"{url}/api/v1", "timeout": timeout,
            "headers": {"Authorization": f"Bearer {token}"} if token else {}}


def _answer(call: Call[T], response: httpx.Response) -> T:
    if response.is_error:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise api_error(response.status_code, body, response.text, call.method, call.path)
    return call.read(response)


def _named(method: Callable[..., Any], build: Callable[..., Any]) -> None:
    method.__name__, method.__qualname__, method.__doc__ = build.__name__, build.__name__, build.__doc__


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))

    _named(method, build)
    return method


def _async(build: Callable[P, Call[T]]) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))

    _named(method, build)
    return method


class Client:
    """`with Client() as registry: registry.tasks()`; a refusal raises `ApiError` with the server's words."""

    def __init__(self, base_url: str | None = None, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(**_config(base_url, token, timeout), transport=transport)

    @property
    def url(self) -> str:
        return str(self._http.base_url)

    def send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **call.request_args())
        except httpx.HTTPError as exc:
            raise Unreachable(self.url, exc) from exc
        return _answer(call, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    tasks = _sync(calls.tasks)
    task = _sync(calls.task)
    create_task = _sync(calls.create_task)
    update_task = _sync(calls.update_task)
    delete_task = _sync(calls.delete_task)
    task_spec = _sync(calls.task_spec)
    set_champion = _sync(calls.set_champion)
    submit = _sync(calls.submit)
    import_champion = _sync(calls.import_champion)
    candidates = _sync(calls.candidates)
    candidate = _sync(calls.candidate)
    retire = _sync(calls.retire)
    transition = _sync(calls.transition)
    approve = _sync(calls.approve)
    history = _sync(calls.history)
    scorecard = _sync(calls.scorecard)
    start_config_search = _sync(calls.start_config_search)
    config_searches = _sync(calls.config_searches)
    config_search = _sync(calls.config_search)
    datasets = _sync(calls.datasets)
    dataset = _sync(calls.dataset)
    dataset_items = _sync(calls.dataset_items)
    upload_dataset = _sync(calls.upload_dataset)
    delete_dataset = _sync(calls.delete_dataset)
    prompts = _sync(calls.prompts)
    prompt = _sync(calls.prompt)
    create_prompt = _sync(calls.create_prompt)
    create_token = _sync(calls.create_token)
    tokens = _sync(calls.tokens)
    me = _sync(calls.me)
    samples = _sync(calls.samples)
    export_samples = _sync(calls.export_samples)
    label_sample = _sync(calls.label_sample)
    feedback = _sync(calls.feedback)
    labelling_jobs = _sync(calls.labelling_jobs)
    labelling_job = _sync(calls.labelling_job)
    label_queue = _sync(calls.label_queue)
    label = _sync(calls.label)
    outbox = _sync(calls.outbox)
    consistency = _sync(calls.consistency)


class AsyncClient:
    """`async with AsyncClient() as registry: await registry.tasks()`; the same calls and errors."""

    def __init__(self, base_url: str | None = None, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(**_config(base_url, token, timeout), transport=transport)

    @property
    def url(self) -> str:
        return str(self._http.base_url)

    async def send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **call.request_args())
        except httpx.HTTPError as exc:
            raise Unreachable(self.url, exc) from exc
        return _answer(call, response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    tasks = _async(calls.tasks)
    task = _async(calls.task)
    create_task = _async(calls.create_task)
    update_task = _async(calls.update_task)
    delete_task = _async(calls.delete_task)
    task_spec = _async(calls.task_spec)
    set_champion = _async(calls.set_champion)
    submit = _async(calls.submit)
    import_champion = _async(calls.import_champion)
    candidates = _async(calls.candidates)
    candidate = _async(calls.candidate)
    retire = _async(calls.retire)
    transition = _async(calls.transition)
    approve = _async(calls.approve)
    history = _async(calls.history)
    scorecard = _async(calls.scorecard)
    start_config_search = _async(calls.start_config_search)
    config_searches = _async(calls.config_searches)
    config_search = _async(calls.config_search)
    datasets = _async(calls.datasets)
    dataset = _async(calls.dataset)
    dataset_items = _async(calls.dataset_items)
    upload_dataset = _async(calls.upload_dataset)
    delete_dataset = _async(calls.delete_dataset)
    prompts = _async(calls.prompts)
    prompt = _async(calls.prompt)
    create_prompt = _async(calls.create_prompt)
    create_token = _async(calls.create_token)
    tokens = _async(calls.tokens)
    me = _async(calls.me)
    samples = _async(calls.samples)
    export_samples = _async(calls.export_samples)
    label_sample = _async(calls.label_sample)
    feedback = _async(calls.feedback)
    labelling_jobs = _async(calls.labelling_jobs)
    labelling_job = _async(calls.labelling_job)
    label_queue = _async(calls.label_queue)
    label = _async(calls.label)
    outbox = _async(calls.outbox)
    consistency = _async(calls.consistency)
