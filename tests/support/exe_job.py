"""An external job speaking the config/exec protocol, as any language could."""

import json
import sys

import pandas as pd


def main() -> int:
    cmd = sys.argv[1]
    if cmd == "config":
        refs = sys.argv[2:]
        if any("garbage" in r for r in refs):
            print("this is not json")
            return 0
        print(json.dumps({"configs": [
            {"outputs": [r], "inputs": [{"dep_type": "materialize",
                                         "ref": r.replace("ext/", "daily/")}],
             "args": ["--scale", "10"]} for r in refs]}))
        return 0
    req = json.load(sys.stdin)
    (out,) = req["outputs"]
    print(f"processing {out}", file=sys.stderr)
    if "2024-01-13" in out:
        print("boom: upstream schema drift", file=sys.stderr)
        return 3
    src = pd.read_parquet(req["input_paths"][req["inputs"][0]["ref"]])
    scale = float(req["args"][1])
    pd.DataFrame({"scaled": src.total * scale}).to_parquet(req["output_paths"][out])
    print(json.dumps({"metadata": {out: {"scale": scale}}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
