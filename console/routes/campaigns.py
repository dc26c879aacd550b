"""Supervisors' campaign pages: the list with live progress, the create wizard (upload → column mapping and
settings → create + import → the import report), start/pause/resume/finish, and the answer exports."""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from console import audit
from console import campaign_forms as forms
from console.deps import SessionDep, require_role, state_of
from console.templating import render, request_lang, templates
from dialer import campaigns as service
from dialer import exports
from dialer.retry import RETRYABLE_OUTCOMES
from dialer.windows import PRESETS, WEEKDAYS
from flows.loader import check_file, describe, flow_files
from models.campaigns import Campaign
from models.imports import FIELDS, ImportFileError, import_file, preview
from models.users import User
from models.vocab import LANGUAGES, VISIT_KINDS

router = APIRouter(prefix="/campaigns")

UPLOAD_PATH = "/campaigns/upload"
ACTIONS: tuple[str, ...] = ("start", "pause", "resume", "finish")

Supervisor = Annotated[User, Depends(require_role("supervisor", "admin"))]

# Message keys of vocabulary values (console/messages_supervisor.py has one per value; a test checks it).
templates.env.globals.update(
    status_key=lambda value: f"camp.status_{value}",
    action_key=lambda value: f"camp.action_{value}",
    preset_key=lambda value: f"camp.preset_{value}",
    weekday_key=lambda value: f"camp.day_{value}",
    field_key=lambda value: f"camp.field_{value}",
)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and "hx-request" not in request.headers


def _library() -> list[dict[str, Any]]:
    """The flows a campaign may use (the library's valid ones)."""
    return [describe(r.flow) for r in map(check_file, flow_files()) if r.flow is not None]


def _campaign_or_404(db: SessionDep, campaign_id: int) -> Campaign:
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        raise HTTPException(404)
    return campaign


def _statuses(db: SessionDep) -> list[service.CampaignStatus]:
    return [service.status(db, c.id) for c in service.list_campaigns(db)]


@router.get("", response_class=HTMLResponse)
def campaign_list(request: Request, db: SessionDep, user: Supervisor) -> Response:
    """Every campaign with its progress (the rows refresh themselves every few seconds)."""
    return render(request, "campaigns/list.html", {"rows": _statuses(db)})


@router.get("/progress", response_class=HTMLResponse)
def campaign_rows(request: Request, db: SessionDep, user: Supervisor) -> Response:
    """The list's rows (htmx polls this)."""
    return render(request, "campaigns/_rows.html", {"rows": _statuses(db)})


@router.get("/new", response_class=HTMLResponse)
def new_campaign(request: Request, user: Supervisor) -> Response:
    """Step 1: upload the patient list."""
    limit = state_of(request).extra.get("max_upload_bytes", 0)
    return render(request, "campaigns/upload.html", {"limit_mb": limit // (1024 * 1024), "error": None})


def _error(request: Request, field: str, message: str, template: str, ctx: dict[str, Any], status: int = 422):
    """A refused form: the page again with the message (browsers), or ``{"detail": [{field, message}]}``."""
    if not _wants_html(request):
        return JSONResponse({"detail": [{"field": field, "message": message}]}, status_code=status)
    return render(request, template, {**ctx, "error": f"{field}: {message}"}, status_code=status)


@router.post(UPLOAD_PATH.removeprefix("/campaigns"))
async def upload(request: Request, user: Supervisor) -> Response:
    """Store the uploaded CSV/XLSX and go to its column-mapping page. Refused (naming the field): no file,
    a wrong type, an unreadable file, unknown form fields; oversized bodies get 413 before this runs."""
    st = state_of(request)
    ctx = {"limit_mb": st.extra.get("max_upload_bytes", 0) // (1024 * 1024)}
    form = await request.form()
    unknown = sorted(set(form) - {"csrf_token", "file"})
    if unknown:
        return _error(request, unknown[0][:64], "unknown form field", "campaigns/upload.html", ctx)
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        return _error(request, "file", "choose a CSV or XLSX file", "campaigns/upload.html", ctx)
    data = await item.read()
    try:
        saved, _preview = await run_in_threadpool(
            forms.save_upload, st.data_dir, item.filename, data, user.id
        )
    except forms.FieldError as exc:
        return _error(request, exc.field, exc.message, "campaigns/upload.html", ctx)
    return RedirectResponse(f"/campaigns/new/{saved.id}", status_code=303)


def _wizard_context(upload: forms.Upload, values: dict[str, str]) -> dict[str, Any]:
    shown = preview(upload.path)
    flows = _library()
    return {
        "upload": upload,
        "preview": shown,
        "fields": list(FIELDS),
        "values": values,
        "flows": flows,
        "languages": LANGUAGES,
        "visit_kinds": VISIT_KINDS,
        "presets": [*PRESETS, forms.CUSTOM_WINDOWS],
        "weekdays": WEEKDAYS,
        "outcomes": RETRYABLE_OUTCOMES,
        "error": None,
    }


def _upload_or_404(request: Request, upload_id: str) -> forms.Upload:
    found = forms.find_upload(state_of(request).data_dir, upload_id)
    if found is None:
        raise HTTPException(404)
    return found


@router.get("/new/{upload_id}", response_class=HTMLResponse)
def mapping_page(request: Request, user: Supervisor, upload_id: str) -> Response:
    """Step 2: headers found, the guessed mapping (editable), the first rows, and the campaign settings."""
    found = _upload_or_404(request, upload_id)
    ctx = _wizard_context(found, forms.default_form([f["id"] for f in _library()]))
    for i, header in enumerate(ctx["preview"].headers):
        ctx["values"][f"map_{i}"] = ctx["preview"].mapping.get(header) or ""
    return render(request, "campaigns/new.html", ctx)


@router.post("/new/{upload_id}")
async def create(request: Request, db: SessionDep, user: Supervisor, upload_id: str) -> Response:
    """Step 3: create the campaign and import the list into it; then its page with the import report."""
    st = state_of(request)
    found = _upload_or_404(request, upload_id)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    shown = await run_in_threadpool(preview, found.path)
    ctx = _wizard_context(found, form)
    try:
        kwargs, mapping = forms.parse_create_form(form, shown.headers)
    except forms.FieldError as exc:
        return _error(request, exc.field, exc.message, "campaigns/new.html", ctx)
    missing = [f for f in ("name", "phone") if f not in mapping.values()]
    if missing:
        return _error(
            request, "mapping", f"no column is mapped to {', '.join(missing)}", "campaigns/new.html", ctx
        )
    try:
        campaign = service.create_campaign(db, timezone=st.timezone, created_by_id=user.id, **kwargs)
    except ValueError as exc:
        return _error(
            request,
            forms.error_field(str(exc)),
            str(exc).split(":", 1)[-1].strip(),
            "campaigns/new.html",
            ctx,
        )
    detail = {"action": "create", "name": campaign.name, "flow": campaign.flow_id, "file": found.filename}
    audit.record_now(db, user, "change_campaign", "campaign", campaign.id, detail)
    if found.size > forms.BACKGROUND_IMPORT_BYTES:
        job_id = _enqueue(request, found, campaign.id, mapping)
        if job_id is not None:
            forms.save_report(st.data_dir, campaign.id, {"job_id": job_id, "filename": found.filename})
            return RedirectResponse(f"/campaigns/{campaign.id}#import", status_code=303)
    try:
        report = await run_in_threadpool(
            import_file, st.sessions, found.path, campaign_id=campaign.id, mapping=mapping, now=st.clock()
        )
    except ImportFileError as exc:
        # The file as a whole cannot be imported: nothing was written; the empty draft goes too.
        reason = forms._plain_reason(exc, found.path)
        db.delete(db.get(Campaign, campaign.id))
        audit.record(
            db, user, "change_campaign", "campaign", campaign.id, {"action": "delete", "reason": reason}
        )
        db.commit()
        return _error(request, "file", reason, "campaigns/new.html", ctx)
    forms.save_report(st.data_dir, campaign.id, {**report.to_dict(), "filename": found.filename})
    return RedirectResponse(f"/campaigns/{campaign.id}#import", status_code=303)


def _enqueue(
    request: Request, found: forms.Upload, campaign_id: int, mapping: dict[str, str | None]
) -> str | None:
    """Queue a big import as an rq job; None when Redis is not reachable (the import then runs here)."""
    from redis import Redis
    from redis.exceptions import RedisError

    from dialer.jobs import enqueue_import

    try:
        connection = Redis.from_url(state_of(request).extra.get("redis_url") or "redis://127.0.0.1:6379/0")
        return enqueue_import(found.path, campaign_id, mapping, connection=connection).id
    except RedisError:
        return None


def _report_context(request: Request, campaign_id: int) -> dict[str, Any]:
    st = state_of(request)
    report = forms.load_report(st.data_dir, campaign_id)
    job = None
    if report is not None and "job_id" in report and "rows_read" not in report:
        job = _job_status(request, report["job_id"])
        if job.get("report"):
            report = {**job["report"], "filename": report.get("filename")}
            forms.save_report(st.data_dir, campaign_id, report)
            job = None
    return {"report": report, "job": job, "shown": forms.REPORT_ROWS_SHOWN}


def _job_status(request: Request, job_id: str) -> dict[str, Any]:
    from redis import Redis
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError

    from dialer.jobs import import_status

    try:
        connection = Redis.from_url(state_of(request).extra.get("redis_url") or "redis://127.0.0.1:6379/0")
        return import_status(job_id, connection=connection)
    except (RedisError, NoSuchJobError) as exc:
        return {"job_id": job_id, "status": "unknown", "error": str(exc) or type(exc).__name__}


@router.get("/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, db: SessionDep, user: Supervisor, campaign_id: int) -> Response:
    """One campaign: settings, live progress, controls, exports and the last import report."""
    campaign = _campaign_or_404(db, campaign_id)
    ctx = {"c": campaign, "s": service.status(db, campaign_id), "actions": ACTIONS, "error": None}
    ctx["windows"] = [(d, forms.format_windows(campaign.calling_windows.get(d, []))) for d in WEEKDAYS]
    ctx.update(_report_context(request, campaign_id))
    return render(request, "campaigns/campaign.html", ctx)


@router.get("/{campaign_id}/progress", response_class=HTMLResponse)
def campaign_progress(request: Request, db: SessionDep, user: Supervisor, campaign_id: int) -> Response:
    """The progress block of the campaign page (htmx polls it), with a background import's progress."""
    _campaign_or_404(db, campaign_id)
    ctx = {"s": service.status(db, campaign_id), **_report_context(request, campaign_id)}
    return render(request, "campaigns/_progress.html", ctx)


@router.post("/{campaign_id}/status")
async def change_status(request: Request, db: SessionDep, user: Supervisor, campaign_id: int) -> Response:
    """Start, pause, resume or finish (form field ``action``); audited as "change_campaign"."""
    _campaign_or_404(db, campaign_id)
    form = await request.form()
    unknown = sorted(set(form) - {"csrf_token", "action", "reason"})
    action = form.get("action")
    if unknown or action not in ACTIONS:
        field = unknown[0][:64] if unknown else "action"
        message = "unknown form field" if unknown else f"expected one of {', '.join(ACTIONS)}"
        return JSONResponse({"detail": [{"field": field, "message": message}]}, status_code=422)
    reason = str(form.get("reason") or "").strip()[:200] or None
    operation = getattr(service, str(action))
    # Its own session: a refused transition rolls back, which must not expire the request's user.
    with state_of(request).sessions() as session:
        try:
            campaign = (
                operation(session, campaign_id, reason=reason) if reason else operation(session, campaign_id)
            )
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
    detail = {"action": action, "status": campaign.status, **({"reason": reason} if reason else {})}
    audit.record_now(db, user, "change_campaign", "campaign", campaign_id, detail)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/{campaign_id}/export.csv")
def export_csv(request: Request, db: SessionDep, user: Supervisor, campaign_id: int) -> Response:
    """The campaign's completed calls with their answers as CSV (dialer.exports); audited."""
    _campaign_or_404(db, campaign_id)
    out = io.StringIO()
    rows = exports.write_csv(db, campaign_id, out, lang=request_lang(request))
    audit.record_now(db, user, "export_answers", "campaign", campaign_id, {"format": "csv", "rows": rows})
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-answers.csv"'},
    )


@router.get("/{campaign_id}/export.ndjson")
def export_fhir(request: Request, db: SessionDep, user: Supervisor, campaign_id: int) -> Response:
    """The flow's FHIR Questionnaire and one QuestionnaireResponse per completed call, as NDJSON; audited."""
    _campaign_or_404(db, campaign_id)
    lines = [
        json.dumps(resource, ensure_ascii=False)
        for resource in exports.fhir_resources(db, campaign_id, lang=request_lang(request))
    ]
    detail = {"format": "fhir", "responses": max(len(lines) - 1, 0)}
    audit.record_now(db, user, "export_answers", "campaign", campaign_id, detail)
    return Response(
        "\n".join(lines) + "\n",
        media_type="application/fhir+ndjson",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-fhir.ndjson"'},
    )
