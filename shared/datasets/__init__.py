"""Built-in tasks and their golden datasets, written for this project (see generate.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from schemas.task import DatasetItem, TaskSpec

BUILTIN_DIR = Path(__file__).parent / "builtin"


class DatasetError(ValueError):
    pass


@dataclass(frozen=True)
class BuiltinTask:
    spec: TaskSpec
    golden_path: Path
    description: str

    @property
    def name(self) -> str:
        return self.spec.name


EXTRACTION_SCHEMA = (
    '{"type": "object", "required": ["name", "age", "city"], "properties": {"name": {"type": "string"}, '
    '"age": {"type": "integer"}, "city": {"type": "string"}}}'
)

BUILTIN_TASKS: dict[str, BuiltinTask] = {
    t.spec.name: t
    for t in (
        BuiltinTask(
            TaskSpec(name="sentiment", metric="choice", metric_args={"labels": ["positive", "negative"]},
                     system_prompt="You are a precise classifier.",
                     prompt_template="Classify the sentiment of this product review as positive or negative.\n"
                                     "Review: {input}\nAnswer with one word."),
            BUILTIN_DIR / "sentiment.jsonl", "Product-review sentiment, two labels."),
        BuiltinTask(
            TaskSpec(name="capitals", metric="contains",
                     prompt_template="{input} Answer with the city name only."),
            BUILTIN_DIR / "capitals.jsonl", "Capital cities; the answer must contain the city."),
        BuiltinTask(
            TaskSpec(name="arithmetic", metric="numeric", metric_args={"tolerance": 0.0},
                     prompt_template="{input}"),
            BUILTIN_DIR / "arithmetic.jsonl", "Small integer arithmetic, numeric answers."),
        BuiltinTask(
            TaskSpec(name="extraction", metric="json_schema", metric_args={"schema": EXTRACTION_SCHEMA},
                     prompt_template="Extract name, age and city from the text as a JSON object with keys "
                                     "name, age, city.\nText: {input}\nJSON:"),
            BUILTIN_DIR / "extraction.jsonl", "Structured extraction to JSON, checked against a JSON Schema."),
    )
}


def parse_jsonl(data: bytes | str) -> list[DatasetItem]:
    """Validate every line; the error names the line number and the problem."""
    text = data.decode() if isinstance(data, bytes) else data
    items: list[DatasetItem] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = DatasetItem.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            raise DatasetError(f"line {number}: {where}: {first['msg']}") from exc
        if item.id in seen:
            raise DatasetError(f"line {number}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError("the dataset has no items")
    return items


def load_builtin(name: str) -> list[DatasetItem]:
    try:
        task = BUILTIN_TASKS[name]
    except KeyError as exc:
        raise DatasetError(f"unknown built-in task {name!r}; known: {', '.join(BUILTIN_TASKS)}") from exc
    return parse_jsonl(task.golden_path.read_bytes())
