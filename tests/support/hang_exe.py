"""An executable job that starts a grandchild ``sleep`` and then hangs in ``exec``."""

import json
import os
import subprocess
import sys
import time

if sys.argv[1] == "config":
    print(json.dumps({"configs": [{"outputs": [r]} for r in sys.argv[2:]]}))
    sys.exit(0)
child = subprocess.Popen(["sleep", "300"])
path = os.environ["HANG_PIDS"]
with open(path + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "pgid": os.getpgrp(), "grandchild": child.pid}, f)
os.replace(path + ".tmp", path)
time.sleep(300)
