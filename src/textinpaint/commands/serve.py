"""``textinpaint serve``: the HTTP API and the web painter under uvicorn."""

from __future__ import annotations

import argparse
import logging

from ..argtypes import port, positive_float, positive_int

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
    p.add_argument("--port", type=port, default=8080, help="port (default 8080)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--flip-ensemble", action="store_true",
                   help="fill each image and its mirror image and average the two fills: "
                        "twice the time, a little less error")
    p.add_argument("--seam", action=argparse.BooleanOptionalAction, default=None,
                   help="close the colour step along the hole's border with a smooth offset "
                        "that fades into the hole (default: as the model folder says; "
                        "birds-128 does)")
    p.add_argument("--guidance-scale", type=float, default=1.0, metavar="S",
                   help="the default of how much the caption counts (a request's "
                        "guidance_scale overrides it): 1 = the model as trained, 0 = no "
                        "caption, up to 4; above 1 takes twice the time")
    p.add_argument("--max-mb", type=positive_float, default=10.0,
                   help="largest accepted image or mask file in MB (default 10)")
    p.add_argument("--max-pixels", type=positive_int, default=4096 * 4096,
                   help="largest accepted image in pixels (default 4096*4096)")
    p.add_argument("--max-text", type=positive_int, default=300,
                   help="longest accepted caption in characters (default 300)")
    g = p.add_argument_group("bounds on the cost of requests")
    g.add_argument("--max-memory-mb", type=positive_float, default=1200,
                   help="estimated memory of all requests in flight together (default 1200)")
    g.add_argument("--max-windows", type=positive_int, default=64,
                   help="fill windows per image; more clusters of holes are merged (default 64)")
    g.add_argument("--max-window-side", type=positive_int, default=4096,
                   help="longest side of one fill window in pixels (default 4096)")
    g.add_argument("--max-aspect", type=positive_float, default=32,
                   help="longest image side over its shortest (default 32)")
    g.add_argument("--queue-seconds", type=positive_float, default=30,
                   help="how long a request waits for memory or the model before a 503")
    g.add_argument("--header-seconds", type=positive_float, default=10,
                   help="time a client has to send a request's headers (default 10)")
    g.add_argument("--body-seconds", type=positive_float, default=60,
                   help="time a client has to send a request's body (default 60)")
    g.add_argument("--keep-alive-seconds", type=positive_float, default=5,
                   help="idle keep-alive connections are closed after this (default 5)")
    g.add_argument("--max-connections", type=positive_int, default=32,
                   help="concurrent connections and requests; more get 503 (default 32)")
    s = p.add_argument_group("who may call")
    s.add_argument("--allowed-hosts", default=None,
                   help="comma-separated Host names to answer ('*': any; default: the --host "
                        "address and the loopback names, any for 0.0.0.0)")
    s.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="an origin (http://host:port) whose pages may POST here, or '*'; "
                        "repeatable (default: only the server's own page)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Load the model and serve until interrupted."""
    import uvicorn

    from ..server.app import create_app
    from ..server.guard import default_allowed_hosts
    from ..server.malloc import return_big_buffers
    from ..server.protocol import with_header_timeout
    from ..shipped import resolve_model_dir
    from ..work import WorkLimits

    return_big_buffers()  # so freed images leave the RSS (see server/malloc.py)
    hosts = default_allowed_hosts(args.host) if args.allowed_hosts is None else \
        [h.strip() for h in args.allowed_hosts.split(",") if h.strip()]
    app = create_app(resolve_model_dir(args.model), device=args.device,
                     flip_ensemble=args.flip_ensemble,
                     seam=args.seam, guidance_scale=args.guidance_scale,
                     max_bytes=int(args.max_mb * 2**20), max_pixels=args.max_pixels,
                     max_text_chars=args.max_text,
                     work=WorkLimits(args.max_window_side, args.max_windows, None,
                                     args.max_aspect),
                     max_memory_mb=args.max_memory_mb, queue_seconds=args.queue_seconds,
                     body_seconds=args.body_seconds, allowed_hosts=hosts,
                     allowed_origins=args.allow_origin)
    if args.host not in LOOPBACK:
        log.warning("listening on %s: anyone who can reach this address can use the model",
                    args.host)
    print(f"painter at http://{args.host}:{args.port}/  (API docs at /docs)", flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info",
                            http=with_header_timeout(args.header_seconds),
                            timeout_keep_alive=args.keep_alive_seconds,
                            limit_concurrency=args.max_connections)
    uvicorn.Server(config).run()  # a taken port: uvicorn logs one line and exits 1
    return 0
