"""The ceiling for this stack: a Starlette endpoint that only reads and parses the JSON body.

Run by bench_collect.py under the same uvicorn configuration as `tracker serve`."""

import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def collect(request: Request) -> Response:
    payload = orjson.loads(await request.body())
    return Response(orjson.dumps({"accepted": len(payload["events"]), "rejected": []}), status_code=202, media_type="application/json")


app = Starlette(routes=[Route("/api/collect", collect, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning", server_header=False)
