"""One process of `distributed.primary_writes`; prints one JSON line (test_export_multihost.py).

  python tests/multihost_primary_writes.py ok|fail COORDINATOR NUM_PROCESSES PROCESS_ID

Process 0's write takes a second (and with `fail`, then raises); every process prints when it
got past `primary_writes`, and what it returned or raised.
"""

import json
import sys
import time

WRITE_S = 1.0


def main(argv: list[str]) -> None:
  from icl_ft_jax import distributed  # pylint: disable=g-import-not-at-top

  mode = argv[0]
  distributed.initialize(argv[1], int(argv[2]), int(argv[3]))
  times = {}

  def write() -> str:
    time.sleep(WRITE_S)
    times["written"] = time.time()
    if mode == "fail":
      raise OSError("the disk is on fire")
    return "written"

  try:
    outcome = {"returned": distributed.primary_writes(write, "the test's files")}
  except Exception as e:  # pylint: disable=broad-except
    outcome = {"raised": f"{type(e).__name__}: {e}"}
  print(json.dumps({**outcome, **times, "left": time.time()}), flush=True)


if __name__ == "__main__":
  main(sys.argv[1:])
