"""How every omnitune page is served (a demo, the leaderboard, the app): queued, on 127.0.0.1 unless told
otherwise, with an upload limit, and with the page style that fixes what Gradio's defaults get wrong for us."""

from __future__ import annotations

import gradio as gr

# Gradio's highlighted text breaks lines inside words ("independe ntly"); people read whole words
CSS = ".textfield { word-break: normal !important; overflow-wrap: break-word; }"
UPLOAD_LIMIT = "10mb"


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    max_file_size: str = UPLOAD_LIMIT,
    auth: tuple[str, str] | None = None,
    block: bool = True,
) -> gr.Blocks:
    app.queue().launch(
        server_name=host,
        server_port=port,
        inbrowser=False,
        max_file_size=max_file_size,
        auth=auth,
        css=CSS,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return app
