"""Content-addressed prompt cache: every prompt is synthesised once, then played from a file.

Key = sha256 of (backend name, voice id, language, normalised text, sample rate); a recorded prompt's key
is the sha256 of its file's bytes and the sample rate. Layout under ``root``::

    wav/ab/<key>.wav      16 kHz mono 16-bit WAV (the canonical copy; the dialer streams its PCM as slin16)
    sln/ab/<key>.sln16    the same PCM, raw: Asterisk file playback on a 16 kHz channel
    sln/ab/<key>.sln      8 kHz raw copy, written on first request: Asterisk playback on 8 kHz legs

For ARI ``play`` use ``asterisk_sound(path)`` (``sound:<root>/sln/ab/<key>``, no extension: Asterisk picks
.sln16 or .sln by the channel's format). The .wav copies live in another folder on purpose: Asterisk's
``wav`` format means 8 kHz, so a 16 kHz .wav beside the .sln16 would be a wrong candidate for it.

Writes go to a temporary file in the target folder and are renamed into place, so a reader never sees
a partial file; a (striped) per-key thread lock plus an ``flock`` on a shard lock file make concurrent threads and
processes render each prompt once. ``render_flow_prompts`` fills the cache for a flow ahead of the calls,
so only prompts with patient-specific fields are synthesised while a call is live.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts.audio import PHONE_RATE, SAMPLE_RATE, Audio, parse_wav, read_audio_file
from tts.base import Synthesizer

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("wav", "sln16", "sln")
_WAV_HEADER = 44


def normalize_text(text: str) -> str:
    """What a prompt's key is computed on (and what is synthesised): NFC, whitespace runs collapsed.

    Punctuation is kept as written: full-width ，。？ drive pauses and sentence splitting in the engines.
    """
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


@dataclass
class CacheStats:
    """Counters since the cache object was made (this process only)."""

    hits: int = 0
    synthesized: int = 0
    recorded: int = 0  # recordings converted into the cache
    seconds_synthesized: float = 0.0  # audio seconds produced by synthesizers


class PromptCache:
    """Files for prompts, keyed by content; safe to share between threads and processes on one host."""

    def __init__(self, root: str | Path, sample_rate: int = SAMPLE_RATE) -> None:
        self.root = Path(root).resolve()
        self.sample_rate = sample_rate
        self.stats = CacheStats()
        # Striped locks: bounded memory however many prompts pass through (collisions only serialise).
        self._locks = [threading.Lock() for _ in range(64)]
        self._stats_lock = threading.Lock()

    # --- keys and paths ----------------------------------------------------------------------------------

    def key(self, text: str, lang: str, synthesizer: Synthesizer) -> str:
        """The cache key of ``text`` said by ``synthesizer`` in ``lang``."""
        parts = ["tts", synthesizer.name, synthesizer.voice_id(lang), lang, normalize_text(text), self.sample_rate]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()

    def recording_key(self, source: str | Path) -> str:
        """The cache key of a recorded prompt: its content, not its name, so a re-recording is picked up."""
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        return hashlib.sha256(json.dumps(["recorded", digest, self.sample_rate]).encode()).hexdigest()

    def file(self, key: str, fmt: str = "wav") -> Path:
        """Where the ``fmt`` copy of ``key`` lives (whether or not it exists yet)."""
        if fmt == "wav":
            return self.root / "wav" / key[:2] / f"{key}.wav"
        if fmt in ("sln16", "sln"):
            return self.root / "sln" / key[:2] / f"{key}.{fmt}"
        raise ValueError(f"unknown prompt format {fmt!r}; expected one of {', '.join(FORMATS)}")

    @staticmethod
    def asterisk_sound(path: str | Path) -> str:
        """ARI media URI for a cached file: ``sound:`` + the absolute path of its .sln copy without extension."""
        p = Path(path)
        if p.parent.parent.name != "sln":
            raise ValueError(f"{p} is not an sln copy: ask path_for(..., fmt='sln16')")
        return "sound:" + str(p.with_suffix(""))

    # --- lookups -----------------------------------------------------------------------------------------

    def lookup(self, text: str, lang: str, synthesizer: Synthesizer, fmt: str = "wav") -> Path | None:
        """The cached file for ``text`` if it is already there (never synthesises)."""
        p = self.file(self.key(text, lang, synthesizer), "wav")
        if not _complete(p):
            return None
        return p if fmt == "wav" else self._derived(p.stem, fmt)

    def path_for(self, text: str, lang: str, synthesizer: Synthesizer, fmt: str = "wav") -> Path:
        """The file of ``text`` in ``lang`` as ``fmt`` (wav, sln16, sln), synthesised first when missing."""
        wav, _ = self.ensure(text, lang, synthesizer)
        return wav if fmt == "wav" else self._derived(wav.stem, fmt)

    def ensure(self, text: str, lang: str, synthesizer: Synthesizer) -> tuple[Path, bool]:
        """(wav file of ``text``, whether this call synthesised it) — synthesising only when missing."""
        key = self.key(text, lang, synthesizer)
        return self._ensure(key, lambda: synthesizer.synthesize(normalize_text(text), lang), "synthesized")

    def audio_for(self, text: str, lang: str, synthesizer: Synthesizer) -> Audio:
        """The cached audio of ``text`` (synthesised first when missing)."""
        return self.load(self.path_for(text, lang, synthesizer))

    def recorded(self, source: str | Path, fmt: str = "wav") -> Path:
        """A recorded prompt converted to 16 kHz mono (once per distinct recording) as ``fmt``."""
        source = Path(source)
        key = self.recording_key(source)
        self._ensure(key, lambda: read_audio_file(source, self.sample_rate), "recorded")
        return self.file(key, "wav") if fmt == "wav" else self._derived(key, fmt)

    def resolve(self, text: str, lang: str, synthesizer: Synthesizer, audio: str | None = None,
                base_dir: str | Path | None = None, fmt: str = "wav") -> Path:
        """The file to play for a ``Play(text, audio)``: the recording when it exists, else synthesised text.

        ``audio`` is relative to ``base_dir`` (the flow file's folder) unless absolute. A recording that is
        named but missing is logged and replaced by TTS (the call goes on).
        """
        if audio:
            src = Path(audio) if base_dir is None else Path(base_dir) / audio
            if src.is_file():
                return self.recorded(src, fmt)
            log.warning("recorded prompt %s not found: synthesising the text instead", src)
        return self.path_for(text, lang, synthesizer, fmt)

    @staticmethod
    def load(path: str | Path) -> Audio:
        """Read a cached file back (.wav or raw .sln16/.sln)."""
        p = Path(path)
        if p.suffix == ".wav":
            return parse_wav(p.read_bytes(), source=str(p))
        return Audio(p.read_bytes(), SAMPLE_RATE if p.suffix == ".sln16" else PHONE_RATE)

    # --- writing -----------------------------------------------------------------------------------------

    def _ensure(self, key: str, produce: Callable[[], Audio], counter: str) -> tuple[Path, bool]:
        wav = self.file(key, "wav")
        if _complete(wav):
            self._count("hits")
            return wav, False
        with self._key_lock(key), self._process_lock(key):
            if _complete(wav):  # another thread or process rendered it while we waited
                self._count("hits")
                return wav, False
            audio = produce().resampled(self.sample_rate)
            if audio.num_samples == 0:
                raise ValueError(f"refusing to cache empty audio for {key}")
            _atomic_write(wav, audio.to_wav())
            _atomic_write(self.file(key, "sln16"), audio.resampled(SAMPLE_RATE).pcm)
            self._count(counter)
            if counter == "synthesized":
                self._count("seconds_synthesized", audio.duration)
        return wav, True

    def _derived(self, key: str, fmt: str) -> Path:
        target = self.file(key, fmt)
        if target.exists():
            return target
        with self._key_lock(key), self._process_lock(key):
            if not target.exists():
                audio = self.load(self.file(key, "wav"))
                _atomic_write(target, audio.resampled(SAMPLE_RATE if fmt == "sln16" else PHONE_RATE).pcm)
        return target

    def _count(self, name: str, amount: float = 1) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _key_lock(self, key: str) -> threading.Lock:
        return self._locks[int(key[:8], 16) % len(self._locks)]

    @contextmanager
    def _process_lock(self, key: str) -> Iterator[None]:
        # One lock file per shard keeps the number of lock files bounded (256).
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key[:2]}.lock", "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _complete(path: Path) -> bool:
    try:
        return path.stat().st_size > _WAV_HEADER
    except FileNotFoundError:
        return False


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # renamed files must not turn up empty after a crash
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- pre-rendering a flow ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")


@dataclass
class FlowRender:
    """What ``render_flow_prompts`` did: files by prompt, and what it left for the call to synthesise."""

    files: dict[str, Path] = field(default_factory=dict)  # rendered text (or "audio:<path>") → cached wav
    synthesized: int = 0
    cached: int = 0
    recorded: int = 0
    dynamic: list[str] = field(default_factory=list)  # templates with patient-specific fields
    missing_audio: list[str] = field(default_factory=list)  # recordings named in the flow but not found


def spoken_texts(flow: Any) -> Iterator[tuple[str, Any]]:
    """(prompt key, Text) for every text of ``flow`` that is said on the phone, in flow order.

    Titles, descriptions, escalation reasons and alarm reasons are for staff and are left out. Choice
    labels and units are included: they are said back when an answer is confirmed.
    """
    for step in flow.steps:
        sid = step.id
        if step.say is not None:
            yield sid, step.say
        if step.ask is not None:
            ask = step.ask
            yield sid, ask.prompt
            if ask.dtmf_prompt is not None:
                yield f"{sid}.dtmf", ask.dtmf_prompt
            for kind in ("no_input", "no_match"):
                for i, t in enumerate(getattr(ask, kind).prompts, 1):
                    yield f"{sid}.{kind}.{i}", t
            for c in ask.choices:
                yield f"{sid}.choice.{c.id}", c.label
            if ask.unit is not None:
                yield f"{sid}.unit", ask.unit
        if step.identify is not None:
            ident = step.identify
            yield sid, ident.prompt
            yield f"{sid}.family", ident.family_prompt
            if ident.family_continue_prompt is not None:
                yield f"{sid}.family_continue", ident.family_continue_prompt
        for spec in (step.escalate, step.transfer, step.end):
            if spec is not None and spec.prompt is not None:
                yield sid, spec.prompt


def render_flow_prompts(flow: Any, lang: str, synthesizer: Synthesizer, cache: PromptCache,
                        flow_dir: str | Path | None = None, static_context: Mapping[str, Any] | None = None,
                        include_messages: bool = True) -> FlowRender:
    """Put every static prompt of ``flow`` in ``lang`` into ``cache`` before any call is made.

    Static means: no template field, or only fields given in ``static_context`` (e.g. ``{"hospital":
    {"name": …, "phone": …}}``, the same for every patient); those are filled with the dialog's own
    renderer so the text matches what a call will ask for. Prompts with patient fields ({patient.*},
    {visit.*}, {answer}, …) are listed in ``dynamic`` and synthesised per call (then cached by content,
    so a retry of the same call reuses them). A text with a recording for ``lang`` (``Text.audio``,
    relative to ``flow_dir``, by default the flow file's folder) is converted from the recording instead.
    ``include_messages`` adds the system messages (built-in texts or the flow's overrides).
    """
    from dialog import messages as dialog_messages  # the dialog core: pure, imported for its texts only
    from dialog.render import render

    ctx = static_context or {}
    if flow_dir is None and getattr(flow, "path", None) is not None:
        flow_dir = flow.path.parent  # flows loaded from a file know where their recordings are
    out = FlowRender()
    items: list[tuple[str, str | None, str | None]] = []
    for key, text in spoken_texts(flow):
        items.append((key, text.get(lang), text.audio.get(lang)))
    if include_messages:
        for key in sorted(dialog_messages.BUILTIN):
            items.append((f"msg.{key}", dialog_messages.template(key, lang, flow),
                          dialog_messages.audio(key, lang, flow)))

    for key, template, audio in items:
        if audio:
            src = Path(audio) if flow_dir is None else Path(flow_dir) / audio
            if src.is_file():
                if f"audio:{audio}" not in out.files:
                    out.files[f"audio:{audio}"] = cache.recorded(src)
                    out.recorded += 1
                continue
            out.missing_audio.append(str(src))
        if not template:
            continue
        fields = _PLACEHOLDER.findall(template)
        if any(_lookup(ctx, f) is None for f in fields):
            out.dynamic.append(key)
            continue
        text = render(template, ctx, lang) if fields else template
        if text in out.files:
            continue
        out.files[text], created = cache.ensure(text, lang, synthesizer)
        if created:
            out.synthesized += 1
        else:
            out.cached += 1
    return out


def _lookup(ctx: Mapping[str, Any], dotted: str) -> Any:
    value: Any = ctx
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value if value not in (None, "") else None
