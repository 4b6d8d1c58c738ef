"""The main command, kept here for ``python experiments/train.py --dataset top50``: the same
as ``jlan-train`` (jlan_tf/cli/train.py), which holds the code and the options."""

import sys

from jlan_tf.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
