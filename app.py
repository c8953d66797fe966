"""Serve the report assistant's web page: ``python app.py`` (see --help).

The page is served at once on http://127.0.0.1:7860; on first start the
index is built in the background, with progress on the terminal and on the
page, and questions asked meanwhile are answered as soon as it is ready.
Host, port, login, queue and upload settings: assistant/app/settings.py.
"""

from __future__ import annotations

import os
import sys

# Before gradio is imported anywhere: no analytics, no version check.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    from assistant.app.engine import Engine, print_progress
    from assistant.app.settings import SettingsError, resolve
    from assistant.config import Config
    from assistant.errors import AssistantError
    from assistant.library import Limits

    try:
        settings = resolve(sys.argv[1:] if argv is None else argv)
    except SettingsError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    try:
        limits = Limits.from_env()
        cfg = Config.from_env()
    except AssistantError as exc:  # REPORT_ASSISTANT_K=abc and the like: one line, no traceback
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    engine = Engine(cfg, rebuild=settings.rebuild, echo=print_progress).start()

    from assistant.app.security import app_kwargs
    from assistant.app.ui import build, launch_options

    demo = build(engine, uploads=settings.uploads, limits=limits)
    # The queue is the only way in: a few workers share the one read-only
    # Assistant (replaced whole, never changed, when a document is added or
    # removed); the bounded queue answers overload with "queue full".
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size,
               api_open=False)
    # Login rate limit, security headers, same-origin uploads: assistant/app/security.py.
    demo.launch(server_name=settings.host, server_port=settings.port, auth=settings.auth,
                app_kwargs=app_kwargs(), **launch_options(settings.uploads, limits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
