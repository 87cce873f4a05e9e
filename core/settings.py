"""One settings object for the whole service, read from CLAUSEWISE_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SECRET = "clausewise-dev-secret-change-me"


class Settings(BaseSettings):
    """Service configuration; created once at start-up and passed to what needs it."""

    model_config = SettingsConfigDict(env_prefix="CLAUSEWISE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=REPO_ROOT / "var", description="All embedded state lives here.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    broker_url: str | None = Field(default=None, description="Celery broker; default SQLite (sqla) in data_dir.")
    result_backend: str | None = Field(default=None, description="Celery results; default SQLite in data_dir.")
    chroma_url: str | None = Field(
        default=None, description="Embedded Chroma path, or http://host:port of a Chroma server."
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Largest request body other than an "
                                                                      "upload (JSON, forms); 413 above it.")
    max_form_fields: int = Field(default=20, gt=0, description="Non-file fields an upload may carry.")
    max_chunks_per_document: int = Field(default=5000, gt=0, description="A document that splits into more "
                                                                         "chunks fails with too_many_chunks.")
    nhi_rotation_days: int = Field(default=90, gt=0, description="NHI7: a long-lived credential in use longer "
                                                                 "than this with no rotation seen.")
    nhi_stale_days: int = Field(default=90, gt=0, description="An identity not seen for this long is stale.")
    rate_uploads_per_minute: int = Field(default=600, ge=0, description="Uploads per key per minute (0: no "
                                                                        "limit); 429 with Retry-After above it.")
    rate_classify_per_minute: int = Field(default=120, ge=0, description="Classification requests per key per "
                                                                         "minute (0: no limit).")
    operator_tenant: str = Field(default="default", description="Admins of this tenant are the operators: only "
                                                                "they read /v1/metrics (every tenant's counts).")
    worker_concurrency: int = 1
    queue_name: str = Field(default="clausewise", description="Celery queue the API publishes to and workers consume")
    task_always_eager: bool = False
    job_time_limit_s: int = Field(default=900, ge=5, description="Hard limit of one job; the Redis visibility "
                                                                 "timeout is twice this.")
    job_lease_s: float = Field(default=60, gt=0, description="A running job's lease; renewed every third of it. A "
                                                            "job whose lease expired is run again (worker_crash "
                                                            "after 3 attempts).")
    recovery_interval_s: float = Field(default=0, ge=0, description="How often a worker sweeps for jobs with an "
                                                                    "expired lease (0: a quarter of the lease).")
    outbox_interval_s: float = Field(default=0.25, gt=0, description="How often a worker's dispatcher looks for "
                                                                   "accepted jobs not yet published to the broker.")
    chroma_port: int = Field(default=0, ge=0, description="Port of the Chroma server `serve` starts on the "
                                                          "embedded default (0: a free one).")
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="One JSON object per log line (request and job ids included).")
    worker_metrics_port: int = Field(default=0, description="A worker serves Prometheus metrics here (0: off).")
    worker_metrics_host: str = "127.0.0.1"
    # web UI sessions (api/ui): an API key exchanged for a server-side session
    ui_session_idle_s: int = Field(default=30 * 60, gt=0, description="A UI session unused this long ends.")
    ui_session_max_s: int = Field(default=12 * 3600, gt=0, description="A UI session ends this long after sign-in.")
    # review workflow
    four_eyes: bool = Field(default=False, description="A reviewer cannot confirm a document they uploaded.")
    # LLM assist (issue 5): none | openai-compatible | ollama | local
    llm_mode: Literal["none", "openai-compatible", "ollama", "local"] = "none"
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible or Ollama endpoint.")
    llm_model: str | None = None
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_s: float = 60.0
    llm_max_calls_per_document: int = 4
    llm_max_tokens_per_document: int = 6000
    llm_candidates: int = Field(default=5, description="Top candidates per framework the LLM verifies.")

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key.get_secret_value() in (DEFAULT_SECRET, "", "changeme"):
                raise ValueError("CLAUSEWISE_SECRET_KEY must be set to a non-default value in production")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("CLAUSEWISE_SECRET_KEY must be at least 32 characters in production")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'clausewise.db'}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir.resolve() / 'broker.db'}"

    @cached_property
    def resolved_result_backend(self) -> str:
        return self.result_backend or f"db+sqlite:///{self.data_dir.resolve() / 'results.db'}"

    @cached_property
    def resolved_chroma_url(self) -> str:
        return self.chroma_url or str(self.data_dir.resolve() / "chroma")

    @property
    def originals_dir(self) -> Path:
        return self.data_dir.resolve() / "originals"

    def ensure_dirs(self) -> None:
        """Create the data directory tree used by the embedded defaults."""
        for d in (self.data_dir, self.originals_dir):
            d.mkdir(parents=True, exist_ok=True)

    def public_summary(self) -> dict[str, str]:
        """Settings safe to show: no secrets, database URL without password."""
        from sqlalchemy.engine import make_url

        return {
            "env": self.env,
            "database": make_url(self.resolved_database_url).render_as_string(hide_password=True),
            "broker": self.resolved_broker_url.split("@")[-1],
            "vector_store": self.resolved_chroma_url,
        }
