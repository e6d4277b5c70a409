"""The registry's tables and API models (SQLModel: XBase / XCreate / X(table) / XPublic)."""

from services.registry.models.auth import ApiToken, TokenCreate, TokenCreated, TokenPublic
from services.registry.models.candidates import (
    Approval,
    ApprovalPublic,
    Candidate,
    CandidatePublic,
    StageHistory,
    StageHistoryPublic,
)
from services.registry.models.config_search import ConfigSearch
from services.registry.models.results import CapturedSample, LabellingJob, ResultRecord
from services.registry.models.tasks import (
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
