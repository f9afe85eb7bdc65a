"""Several waitress processes on one port for the appeals benchmark: ``python -m bench._serve --port P``.

Production runs "as many ``linli serve`` processes as needed behind a load balancer" (docs/operations.md). On one
machine the kernel can be that balancer: each process here binds its own listening socket with SO_REUSEPORT and
serves the very application ``linli serve`` serves (``StaticFilesHandler(linli.config.wsgi.application)`` under
waitress with the same thread count), so N of them behave like N ``linli serve`` behind a balancer. With one
process the benchmark runs ``linli serve`` itself.
"""

from __future__ import annotations

import argparse
import os
import socket


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench._bench_settings")
    import waitress
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    from linli.config.wsgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    waitress.serve(StaticFilesHandler(application), sockets=[sock], threads=args.threads)


if __name__ == "__main__":
    main()
