"""An executable job that reports what it received: argv, stdin args, and env (values that
should arrive, and whether PATH survived). Its config comes from PROBE_CONFIG (JSON with
"args", "env", "secret_env"). Like a careless program, it logs its whole env and args on
stderr and echoes a connection string in its metadata: databuild must redact them."""

import json
import os
import sys

import pandas as pd

cfg = json.loads(os.environ.get("PROBE_CONFIG", "{}"))
if sys.argv[1] == "config":
    print(json.dumps({"configs": [{"outputs": [r], "args": cfg.get("args", []),
                                   "env": cfg.get("env", {}),
                                   "secret_env": cfg.get("secret_env", [])}
                                  for r in sys.argv[2:]]}))
    sys.exit(0)
req = json.load(sys.stdin)
(out,) = req["outputs"]
names = sorted(cfg.get("env", {}))
print(f"argv: {sys.argv[2:]}", file=sys.stderr)
for n in names:
    print(f"env {n}={os.environ.get(n)}", file=sys.stderr)
arrived = {n: os.environ.get(n) == cfg["env"][n] for n in names}
pd.DataFrame({
    "argv": [json.dumps(sys.argv[2:])],
    "stdin_args": [json.dumps(req["args"])],
    "arrived": [json.dumps(arrived)],
    "has_path": [bool(os.environ.get("PATH"))],
    "stdin_env_ok": [all(req["env"].get(n) == cfg["env"][n] for n in names)],
}).to_parquet(req["output_paths"][out])
print(json.dumps({"metadata": {out: {"connection": " ".join(sys.argv[2:])}}}))
