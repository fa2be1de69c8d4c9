"""``python -m resattn_min`` with the tiny test models registered, for subprocess and torchrun tests.

``RESATTN_TEST_STEP_DELAY=<seconds>`` slows every training step down, so a test can kill the process
between two checkpoints.
"""

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tiny models, and the package without installing it

import _tiny_models  # noqa: E402,F401  (registers the models)

from resattn_min.cli import main  # noqa: E402
from resattn_min.train import step as trainer  # noqa: E402

if os.environ.get("RESATTN_TEST_STEP_DELAY"):
    delay, plain_step = float(os.environ["RESATTN_TEST_STEP_DELAY"]), trainer.train_step

    def slow_step(*args, **kwargs):
        time.sleep(delay)
        return plain_step(*args, **kwargs)

    trainer.train_step = slow_step

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
