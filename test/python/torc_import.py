"""Makes torc v0.10.0's generated client importable as `torc.openapi_client` without torc's own
package __init__ (which needs loguru and rmon): an empty `torc` package whose path is the
client's folder in torc's reference material (../shared/torc), as its README describes."""

import sys
import types
from pathlib import Path


def install(shared_torc: str) -> None:
    src = Path(shared_torc) / "python_client" / "src" / "torc"
    if not (src / "openapi_client").is_dir():
        raise SystemExit(f"torc's Python client not found under {src}")
    pkg = sys.modules.get("torc") or types.ModuleType("torc")
    paths = list(getattr(pkg, "__path__", []))
    if str(src) not in paths:
        paths.append(str(src))
    pkg.__path__ = paths
    sys.modules["torc"] = pkg
