"""Locating and running quantc's command-line tools."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

_REPO_ROOT = Path(__file__).resolve().parents[2]


class QuantcError(RuntimeError):
    """A quantc tool refused its input; ``diagnostics`` holds what it said."""

    def __init__(self, tool: str, returncode: int, diagnostics: str):
        super().__init__(f"{tool} failed with exit code {returncode}:\n{diagnostics}")
        self.tool = tool
        self.returncode = returncode
        self.diagnostics = diagnostics


def find_tool(name: str) -> Path:
    """Finds a quantc tool: $QUANTC_BUILD_DIR/bin, then PATH, then the
    repository's build/bin."""
    candidates = []
    if os.environ.get("QUANTC_BUILD_DIR"):
        candidates.append(Path(os.environ["QUANTC_BUILD_DIR"]) / "bin" / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(_REPO_ROOT / "build" / "bin" / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"cannot find '{name}': build quantc (scripts/build.sh) or set QUANTC_BUILD_DIR")


def quant_opt(ir: str, *passes: str, tool: Optional[Path] = None,
              extra_args: Sequence[str] = ()) -> str:
    """Runs ``quant-opt`` on IR text with the given pass flags and returns the
    resulting IR text. Raises QuantcError with the diagnostics on failure."""
    exe = str(tool or find_tool("quant-opt"))
    result = subprocess.run([exe, "-", *passes, *extra_args], input=ir,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise QuantcError("quant-opt", result.returncode, result.stderr)
    return result.stdout
