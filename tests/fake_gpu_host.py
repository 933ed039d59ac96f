"""`python tests/fake_gpu_host.py N train.py [overrides]`: a dialsum entry point on a simulated N-GPU host
(tests/fake_cuda.py), for checks that happen before anything runs on a GPU."""
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_cuda  # noqa: E402

if __name__ == "__main__":
    fake_cuda.install(int(sys.argv[1]))
    script = sys.argv[2]
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")
