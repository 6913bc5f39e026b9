"""The README's two commands are what CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```bash\n")[1:3]
    return [block.split("```")[0].strip() for block in blocks]


def test_ci_runs_the_readme_commands() -> None:
    install_and_run, test = readme_commands()
    assert "pip install" in install_and_run and "adaswitch ask" in install_and_run
    assert test.endswith("pytest")
    assert "--no-deps" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_run in ci
    assert test in ci
