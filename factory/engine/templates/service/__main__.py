"""Run the service: python -m <package> [--host H] [--port P] [--port-file F]."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import StartupError
from .server import make_server


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the module's HTTP API.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--port-file", help="write the bound port here (useful with --port 0)")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.host, args.port)
    except StartupError as error:
        print(f"{__package__}: cannot serve: {error}", file=sys.stderr)
        return 1
    port = server.server_address[1]
    if args.port_file:
        Path(args.port_file).write_text(str(port))
    print(f"serving on http://{args.host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.store.close()


if __name__ == "__main__":
    sys.exit(main())
