"""All settings in one place (pydantic-settings), read once and passed down.

The ``OPENAI_*`` variables mean what they mean everywhere else; our own carry ``READER_``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
# The prompt files and glossary inside an installed package (setup.py copies prompts/ there).
PACKAGED_PROMPTS = "_prompts"
# A PostgreSQL URL without a driver (as hosting platforms hand them out, or ``postgres://``)
# would mean psycopg2 to SQLAlchemy; the `postgres` extra installs psycopg (3).
PG_SCHEMES = ("postgres://", "postgresql://")
PG_DRIVER = "postgresql+psycopg://"


def from_checkout() -> bool:
    """Running from a source checkout (or an editable install of one), not an installed wheel."""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "prompts").is_dir()


def default_prompts_dir() -> Path:
    """The checkout's ``prompts/``; for an installed package, the copy shipped inside it."""
    if from_checkout():
        return ROOT / "prompts"
    return Path(str(resources.files("service") / PACKAGED_PROMPTS))


def project_dir() -> Path:
    """Where ``corpus/`` and ``cache/`` are by default: the checkout, else the current directory.

    An installed tool treats the folder it runs in as the project, as a checkout is one: its
    documents and its cache side by side, never inside site-packages.
    """
    return ROOT if from_checkout() else Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="READER_", extra="ignore", populate_by_name=True)

    # --- paths -----------------------------------------------------------------------------
    corpus_dir: Path = Field(
        default_factory=lambda: project_dir() / "corpus",
        description="Raw source documents + manifest. Default: corpus/ of the checkout; "
        "for an installed package, corpus/ in the current directory.",
    )
    prompts_dir: Path = Field(
        default_factory=default_prompts_dir,
        description="Versioned prompt files + glossary. Default: prompts/ of the checkout; "
        "for an installed package, the copy shipped inside it (service/_prompts).",
    )
    cache_dir: Path = Field(
        default_factory=lambda: project_dir() / "cache",
        description="SQLite database and local model file. Default: cache/ of the checkout; "
        "for an installed package, cache/ in the current directory.",
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "READER_DATABASE_URL"),
        description="SQLAlchemy URL; default sqlite:///<cache_dir>/reader.sqlite3. PostgreSQL: "
        "postgresql+psycopg://user:password@host:5432/db (the `postgres` extra); "
        "postgres:// and postgresql:// mean the same.",
    )

    # --- input limits ----------------------------------------------------------------------
    max_input_bytes: int = Field(5 * 1024 * 1024, description="Largest accepted input file.")

    # --- fetching by URL (service/ingest/fetch.py) -----------------------------------------
    fetch_timeout_s: float = Field(20.0, gt=0, description="Deadline for fetching one URL.")
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed at most.")
    api_fetch: bool = Field(False, description="Let the API fetch documents by URL.")
    fetch_allow_private: bool = Field(
        False, description="Let the API fetch private, loopback and link-local addresses."
    )

    # --- chunking --------------------------------------------------------------------------
    chunk_tokens: int | None = Field(
        None, description="Chunk budget in tokens; default derived from the model profile."
    )

    # --- model endpoint --------------------------------------------------------------------
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "READER_OPENAI_BASE_URL")
    )
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "READER_OPENAI_API_KEY"), repr=False
    )
    model: str | None = Field(None, description="Model name sent to the endpoint (READER_MODEL).")
    profile: str | None = Field(None, description="Model profile name; guessed from the model.")
    concurrency: int = Field(4, ge=1, description="Most model calls in flight at once.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(5, ge=0, description="Retries on 429/5xx/timeouts/connection errors.")
    relay_url: str | None = Field(
        None,
        description="Address of a `policy-reader relay` (e.g. http://127.0.0.1:8790): model "
        "requests go through it, one limit and each call once for every worker using it.",
    )
    prompt_versions: dict[str, str] = Field(
        default_factory=dict, description='Active prompt version per task, e.g. {"translate":"v1"}.'
    )

    # --- embedded local model --------------------------------------------------------------
    local_model_path: Path | None = Field(
        None,
        description="An existing GGUF file of your own; default: the packaged embedded model, "
        "assembled once under cache_dir/models.",
    )
    local_port: int | None = Field(None, description="Port for the local server; default: free.")
    local_threads: int = Field(2, ge=1)

    # --- API -------------------------------------------------------------------------------
    api_key: str | None = Field(None, repr=False, description="When set, /v1 requires Bearer.")

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, url: str | None) -> str | None:
        """``postgres://`` and ``postgresql://`` go through psycopg (3)."""
        for scheme in PG_SCHEMES:
            if url is not None and url.startswith(scheme):
                return PG_DRIVER + url.removeprefix(scheme)
        return url

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.cache_dir / 'reader.sqlite3'}"

    @property
    def uses_local_model(self) -> bool:
        """No endpoint configured → the embedded llama.cpp server is the default."""
        return not self.openai_base_url and not self.openai_api_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
