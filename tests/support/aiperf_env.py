"""AIPerf, the second opinion of tests/test_llm_load_aiperf.py, in an environment of its own
under the cache directory (`python tests/support/aiperf_env.py` sets it up; .ci/run does).

Why not the test extra: aiperf 0.13 pins rich~=14.1, aiofiles~=24.1, pyzmq~=26.4,
pandas~=2.3 and brings transformers, datasets, scipy, plotly, kubernetes-asyncio: beside
sse-doctor it would move the versions the rest of the tests run with.

It runs offline: AIPerf needs a tokenizer (to make its synthetic prompts), and its `builtin`
one downloads tiktoken's encoding on first use. `lab_tokenizer` writes a small word-level
tokenizer (the lab's `tokN` words) into a private Hugging Face cache instead, which AIPerf
loads with HF_HUB_OFFLINE=1; token counts come from the server's usage
(--use-server-token-count), as ours do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AIPERF_SPEC = "aiperf==0.13.0"
INSTALL_TIMEOUT_S = 900.0
TOKENIZER_REPO = "sse-doctor/lab-tokenizer"
_COMMIT = "0" * 40


def env_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "sse-doctor" / "aiperf-0.13.0"


def aiperf_bin() -> Path:
    return env_dir() / "bin" / "aiperf"


def install() -> str | None:
    """Set up the environment (once); None when ready, else why not (one line)."""
    if aiperf_bin().exists():
        return None
    env = env_dir()
    try:
        env.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True,
                       capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", AIPERF_SPEC],
                       check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        last = [ln for ln in (exc.stderr or "").splitlines() if ln.strip()][-1:]
        return f"could not install {AIPERF_SPEC}: {last[0] if last else exc}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not install {AIPERF_SPEC}: {exc}"
    return None


_MAKE_TOKENIZER = """
import sys
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
words = ["[UNK]", "[PAD]", "thought"] + [f"tok{i}" for i in range(2000)]
words += [str(i) for i in range(2000)]
tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]"
                        ).save_pretrained(sys.argv[1])
"""


def lab_tokenizer(hub_cache: Path) -> None:
    """Write the lab's tokenizer into a Hugging Face hub cache, as TOKENIZER_REPO."""
    repo = hub_cache / ("models--" + TOKENIZER_REPO.replace("/", "--"))
    snapshot = repo / "snapshots" / _COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(_COMMIT)
    subprocess.run([str(env_dir() / "bin" / "python"), "-c", _MAKE_TOKENIZER, str(snapshot)],
                   check=True, capture_output=True, text=True, timeout=120)


if __name__ == "__main__":
    problem = install()
    if problem:
        sys.exit(problem)
    print(f"aiperf ready: {aiperf_bin()}")
