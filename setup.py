"""Build script: only the optional compiled block scanner lives here (pyproject.toml has the
rest). ``optional=True``: where no C compiler is available the build goes on without it, and
the parser runs its pure-Python path."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "_sse_doctor_blockscan",  # top level: see the comment in the C file
            ["sse_doctor/sse/_blockscan.c"],
            optional=True,
        )
    ]
)
