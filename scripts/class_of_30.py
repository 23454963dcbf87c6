"""A class of 30 handing in lesson 01, graded: the timing and the class figures README "For teachers" states.

    python scripts/class_of_30.py --output-dir class30

Writes 30 submissions of lesson 01 into OUTPUT/handed_in (the teacher's version, each with the α, β and seed
its student chose in the parameters cell; every fifth answers exercise 01.2 wrong), then runs
`curiolib grade 01 OUTPUT/handed_in --output-dir OUTPUT/graded --smoke --workers 2 --plot fitted_beta --x beta`
and prints its wall-clock time. The class's growth curves, fitted one by one and averaged, are in
OUTPUT/graded/grades.md and growth.png.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from curiolib._files import claim_output_dir, write_text_atomically
from curiolib.classroom.catalog import find_lesson


def submissions(folder: Path, count: int = 30) -> None:
    """``count`` students' copies of lesson 01, each with its own α, β and seed; every fifth one wrong."""
    teacher = json.loads(find_lesson("01").path.read_text(encoding="utf-8"))
    for k in range(count):
        notebook = json.loads(json.dumps(teacher))
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if "parameters" in cell["metadata"].get("tags", []):
                source = re.sub(r"(?m)^alpha = [^#\n]*", f"alpha = {0.2 + 0.6 * (k % 6) / 5:.2f}  ", source)
                source = re.sub(r"(?m)^beta = [^#\n]*", f"beta = {0.1 + 0.8 * (k % 5) / 4:.2f}  ", source)
                source = re.sub(r"(?m)^seed = .*", f"seed = {k}", source)
            elif k % 5 == 4 and "se_ratio =" in source and "solution" in cell["metadata"].get("tags", []):
                source = re.sub(r"(?m)^se_ratio = .*", "se_ratio = 1.0  # SOLUTION", source)
            cell["source"] = source
        write_text_atomically(folder / f"student{k + 1:02d}.ipynb", json.dumps(notebook, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = claim_output_dir(args.output_dir)
    handed_in = claim_output_dir(out / "handed_in", parameter="output_dir/handed_in")
    submissions(handed_in)
    command = [sys.executable, "-m", "curiolib", "grade", "01", str(handed_in), "--output-dir", str(out / "graded"),
               "--smoke", "--workers", str(args.workers), "--plot", "fitted_beta", "--x", "beta"]
    start = time.perf_counter()
    done = subprocess.run(command)
    print(f"graded 30 submissions of lesson 01 in {time.perf_counter() - start:.0f} s ({args.workers} at a time)")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
