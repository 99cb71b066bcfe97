"""Build step: ship the checkout's prompts inside the package, as ``service/_prompts/``.

``prompts/`` stays at the top of the repository (the product card fixes the layout) and is the
only copy there; an installed ``policy-reader`` needs the prompt files and the glossary inside
the package (``service.config.default_prompts_dir`` finds them there). Everything else about
the build is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROMPTS = Path(__file__).resolve().parent / "prompts"
PACKAGED = ("service", "_prompts")  # service.config.PACKAGED_PROMPTS
SHIPPED = ("*/*.md", "glossary.tsv")  # prompt files and the glossary; prompts/README.md is not


class BuildPyWithPrompts(build_py):
    """``build_py`` that also copies the shipped prompt files into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install runs from the checkout: prompts/ is there
            return
        for target, source in self._prompt_files():
            self.mkpath(str(Path(target).parent))
            self.copy_file(source, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [target for target, _ in self._prompt_files()]

    def _prompt_files(self) -> list[tuple[str, str]]:
        """(target in the build, source in prompts/) for every shipped file."""
        sources = sorted(path for pattern in SHIPPED for path in PROMPTS.glob(pattern))
        if not sources:  # e.g. an sdist made without MANIFEST.in: fail rather than ship no prompts
            raise FileNotFoundError(f"no prompt files under {PROMPTS}")
        target = Path(self.build_lib, *PACKAGED)
        return [(str(target / path.relative_to(PROMPTS)), str(path)) for path in sources]


setup(cmdclass={"build_py": BuildPyWithPrompts})
