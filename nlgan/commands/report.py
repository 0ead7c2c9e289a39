"""`nlgan report RUN [--out PATH] [--serve]`: one self-contained HTML page about a run."""

from __future__ import annotations

import click

from nlgan.commands.common import device_option, one_line_errors, pick_device


@click.command(name="report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out", type=click.Path(dir_okay=False), help="HTML file to write (default RUN/report.html)."
)
@click.option("--serve", is_flag=True, help="Then serve it on localhost and open a browser.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port for --serve.")
@device_option
def command(run: str, out: str | None, serve: bool, port: int, device: str) -> None:
    """Write RUN's report: header, curves (RUN/metrics.jsonl), samples, scores and an
    attention explorer, in one HTML file that loads nothing (open it by double-click)."""
    from nlgan.report import build_report

    with one_line_errors():
        path = build_report(run, out, pick_device(device))
    size = path.stat().st_size
    click.echo(f"wrote {path} ({size / 1024:.0f} KiB)")
    if serve:
        _serve(path, port)


def _serve(path, port: int) -> None:
    """Serve the report's folder on localhost until Ctrl-C and open it in a browser."""
    import functools
    import http.server
    import webbrowser

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        click.echo(f"serving {url} (Ctrl-C to stop)")
        webbrowser.open(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
