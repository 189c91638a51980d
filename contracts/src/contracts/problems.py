"""The RFC 9457 problem document every 4xx/5xx answer carries (docs/architecture.md#errors)."""

from pydantic import BaseModel, ConfigDict

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(BaseModel):
    """`type`, `title`, `status`, `detail`, `code`, plus named extension fields."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
