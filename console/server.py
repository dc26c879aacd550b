"""``followup console``: serve the console with uvicorn (one process: the live feed and the login rate
limiter are per process)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``followup console``."""
    parser.add_argument("--host", help="address to listen on (default: FOLLOWUP_CONSOLE_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: FOLLOWUP_CONSOLE_PORT, 8000)")
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from a reverse proxy on this host (HTTPS termination)",
    )


def main(args: argparse.Namespace) -> int:
    """Upgrade the database schema, then serve until interrupted."""
    import uvicorn

    from console.app import create_app
    from followup.config import get_settings
    from models.db import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    host = args.host or settings.console_host
    port = args.port or settings.console_port
    print(f"followup console: http://{host}:{port}/", flush=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips="127.0.0.1" if args.proxy_headers else None,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=3,  # open SSE streams would otherwise hold the shutdown
    )
    return 0
