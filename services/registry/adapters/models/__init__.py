"""The registry's tables and API models (SQLModel: XBase / XCreate / X(table) / XPublic)."""

from services.registry.adapters.models.auth import ApiToken, TokenCreate, TokenCreated, TokenPublic
from services.registry.adapters.models.candidates import (
    Approval,
    ApprovalPublic,
    Candidate,
    CandidatePublic,
    StageHistory,
    StageHistoryPublic,
)
from services.registry.adapters.models.config_search import ConfigSearch
from services.registry.adapters.models.results import CapturedSample, LabellingJob, ResultRecord
from services.registry.adapters.models.tasks import (
    Dataset,
    DatasetPublic,
    PromptVersion,
    PromptVersionCreate,
    PromptVersionPublic,
    Task,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)

__all__ = [
    "ApiToken", "Approval", "ApprovalPublic", "Candidate", "CandidatePublic", "CapturedSample", "ConfigSearch",
    "Dataset", "DatasetPublic", "LabellingJob", "PromptVersion", "PromptVersionCreate",
    "PromptVersionPublic", "ResultRecord", "StageHistory", "StageHistoryPublic", "Task", "TaskCreate", "TaskPublic",
    "TaskUpdate", "TokenCreate", "TokenCreated", "TokenPublic",
]
