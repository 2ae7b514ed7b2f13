"""A plugin from the future: it answers the handshake with protocol 99."""

import json
import sys

for line in sys.stdin:
    req = json.loads(line)
    if req["method"] == "initialize":
        print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"protocol": 99, "name": "old"}}), flush=True)
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": "no"}}), flush=True)
