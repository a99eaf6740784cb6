"""Two executable jobs in a chain (stage1 -> stage2), all executable so a plan compiles to
a shell script. Run as a program it speaks the config/exec protocol; imported, ``graph``."""

import json
import sys
from pathlib import Path


def program(stage: str, cmd: str, rest: list[str]) -> int:
    import pandas as pd

    if cmd == "config":
        configs = []
        for r in rest:
            inputs = [] if stage == "stage1" else [
                {"dep_type": "materialize", "ref": r.replace("stage2/", "stage1/")}]
            configs.append({"outputs": [r], "inputs": inputs, "args": ["--factor", "2"],
                            "env": {"STAGE_NOTE": "it's $HOME `x`"}})
        print(json.dumps({"configs": configs}))
        return 0
    req = json.load(sys.stdin)
    (out,) = req["outputs"]
    if stage == "stage1":
        df = pd.DataFrame({"v": [1, 2, 3]})
    else:
        df = pd.read_parquet(req["input_paths"][req["inputs"][0]["ref"]])
        df["v"] = df.v * int(rest[rest.index("--factor") + 1])
    df.to_parquet(req["output_paths"][out])
    return 0


if __name__ == "__main__":
    sys.exit(program(sys.argv[1], sys.argv[2], sys.argv[3:]))
else:
    from databuild_assets.core import ExecutableJob, Graph, PartitionPattern

    _CMD = [sys.executable, str(Path(__file__).resolve())]
    graph = Graph([ExecutableJob(s, [*_CMD, s], [PartitionPattern(f"{s}/d={{d}}")])
                   for s in ("stage1", "stage2")])
