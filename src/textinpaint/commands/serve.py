"""``textinpaint serve``: the HTTP API and the web painter under uvicorn."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub) -> None:
    """Register the ``serve`` sub-command."""
    p = sub.add_parser("serve", help="serve the HTTP API and the web painter",
                       description="Serve POST /api/v1/inpaint, GET /api/v1/model, /healthz, "
                       "the OpenAPI docs at /docs and the painter at /. Binds to 127.0.0.1 "
                       "unless --host says otherwise.")
    p.add_argument("--model", default=None,
                   help="a model name (see 'textinpaint models') or folder "
                        "(default: birds-128)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--flip-ensemble", action="store_true",
                   help="fill each image and its mirror image and average the two fills: "
                        "twice the time, a little less error")
    p.add_argument("--max-mb", type=float, default=10.0,
                   help="largest accepted image or mask file in MB (default 10)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096,
                   help="largest accepted image in pixels (default 4096*4096)")
    p.add_argument("--max-text", type=int, default=300,
                   help="longest accepted caption in characters (default 300)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Load the model and serve until interrupted."""
    import uvicorn

    from ..server.app import create_app
    from ..shipped import resolve_model_dir

    app = create_app(resolve_model_dir(args.model), device=args.device,
                     flip_ensemble=args.flip_ensemble,
                     max_bytes=int(args.max_mb * 2**20), max_pixels=args.max_pixels,
                     max_text_chars=args.max_text)
    if args.host not in LOOPBACK:
        log.warning("listening on %s: anyone who can reach this address can use the model",
                    args.host)
    print(f"painter at http://{args.host}:{args.port}/  (API docs at /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
