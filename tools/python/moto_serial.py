"""moto's server mode, serving one request at a time.

moto checks a DynamoDB transaction's conditions and applies its writes
without a lock, so on its usual threaded server two concurrent
transactions can interleave, which DynamoDB never lets happen (one of
them is cancelled with TransactionConflict). Served one at a time, moto's
transactions are isolated as DynamoDB's are, and the index contract's
concurrency tests mean something against it.

Usage: python moto_serial.py HOST PORT
"""

import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
