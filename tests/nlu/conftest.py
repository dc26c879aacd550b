"""Make the corpus helpers importable as ``corpus_support`` however pytest names this package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
