"""`pip install --no-build-isolation .`: the Python package `cfx`, built by the project's CMake.

The extension `cfx._cfx` is the CMake target `cfx_python` (pybind11 over the C++ library,
against the torch this Python imports); this file only drives that build and packs its output.
It reuses the CMake build folder `build/` (or $CFX_BUILD_DIR) when it is already configured,
so after `make build` an install takes seconds; otherwise it configures one (Release, Ninja).
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(cfx VERSION ([0-9.]+)", f.read()).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.abspath(os.environ.get("CFX_BUILD_DIR", os.path.join(ROOT, "build")))
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja",
                                   "-DCMAKE_BUILD_TYPE=Release",
                                   f"-DPython3_EXECUTABLE={sys.executable}"])
        jobs = str(len(os.sched_getaffinity(0)))
        subprocess.check_call(["cmake", "--build", build, "--target", "cfx_python", "-j", jobs])
        built = glob.glob(os.path.join(build, "python", "cfx", "_cfx*.so"))
        if not built:
            sys.exit(f"cfx: error: CMake built no Python module in {build}/python/cfx "
                     "(is python3-dev, pybind11-dev and python3-torch installed? "
                     "see docs/python.md)")
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(built[0], dest)


setup(
    name="cfx",
    version=version(),
    description="Counterfactual explanations of image classifiers (C++ engine, PyTorch models)",
    packages=["cfx"],
    package_dir={"cfx": "python/cfx"},
    ext_modules=[Extension("cfx._cfx", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    zip_safe=False,
)
